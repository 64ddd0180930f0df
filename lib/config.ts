// Configuration: defaults < config file < STOMPD_* environment < CLI flags, validated once.
// This is the only module that reads process.env.
import { readFileSync } from 'node:fs'
import type { OverflowPolicy } from './broker/queue.js'
import { parseRedisUrl, REDIS_URL_FORMS } from './cluster/redis-url.js'

export interface StompdConfig {
  /** Interface to bind, e.g. `0.0.0.0` or `127.0.0.1`. */
  host: string
  /** HTTP + WebSocket port; 0 picks a free one. */
  port: number
  /** STOMP over TCP port; 0 picks a free one; 'off' disables the listener. */
  tcpPort: number | 'off'
  /** `memory`, or `sqlite:<path>`. */
  store: string
  /** SQLite durability: `normal` survives a killed process, `full` (an fsync per commit) a power cut. */
  storeSync: 'normal' | 'full'
  /** ms to gather store writes into one commit; 0 = one commit per event-loop turn. */
  storeCommitInterval: number
  /** Redis URL for multi-node operation; empty = single node. */
  redis: string
  /** Users file (JSON, written by `stompd passwd`); empty = none. */
  users: string
  /** File holding the HS256 secret for JWTs; empty = none. */
  jwtSecret: string
  /** PEM public key (RS256, ES256, EdDSA) for JWTs; empty = none. */
  jwtPublicKey: string
  /** JWKS URL for JWTs (cached, fetched again for an unknown `kid`); empty = none. */
  jwtJwks: string
  /** Required `iss` and `aud` of JWTs; empty = not checked. */
  jwtIssuer: string
  jwtAudience: string
  /** Authorization rules (JSON); empty = every connected client may publish and subscribe anywhere. */
  acl: string
  /** PEM certificate and key: with both, the HTTP port speaks HTTPS (wss://) and STOMP over TLS listens on tlsPort. */
  tlsCert: string
  tlsKey: string
  /** STOMP over TLS port; 0 picks a free one; 'off' = none even with a certificate. */
  tlsPort: number | 'off'
  /** CA bundle for client certificates; with tlsClientAuth `optional` or `required`. */
  tlsCa: string
  tlsClientAuth: 'none' | 'optional' | 'required'
  /** Origins a browser's WebSocket upgrade may come from (comma list, `*` any); empty = any. */
  allowedOrigins: string
  /** Connections at once, in all and per remote address; 0 = unlimited. */
  maxConnections: number
  maxConnectionsPerIp: number
  /**
   * Longest wait (ms) before the broker reads from a new connection whose address recently broke
   * the protocol or a limit (doubling from 100 ms per offence); 0 = off.
   */
  offenderDelay: number
  /** How long (ms) a SEND's `dedup-id` is remembered per destination; 0 = no duplicate detection. */
  dedupWindow: number
  /** Most `dedup-id`s remembered per destination (the oldest go first). */
  dedupMaxIds: number
  /** Spans for publishes and deliveries, to OpenTelemetry's OTLP/HTTP exporter (OTEL_EXPORTER_OTLP_ENDPOINT). */
  otel: boolean
  /** Serve the browser demo (chat, job queue) under /examples/. */
  examples: boolean
  /** Open transactions per connection, and frames held in one. */
  maxTransactions: number
  maxTransactionFrames: number
  /** Messages delivered and not yet acked per connection, over all its subscriptions; 0 = unlimited. */
  maxUnacked: number
  /** SENDs per second per connection (a token bucket); past it the broker stops reading from the socket. 0 = unlimited. */
  maxPublishRate: number
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  /**
   * What the server offers: `sx,sy` ms (can send every, wants to receive every). Each direction
   * runs at the larger of the two sides' values, so these are floors: with 1000,1000 a client
   * gets the rate it asks for, down to one a second (as RabbitMQ does), and `@stomp/stompjs`'s
   * default 10000,10000 stays 10 s.
   */
  heartBeat: [number, number]
  /** A client silent for more than this many agreed heart-beat intervals is closed. */
  heartbeatGrace: number
  /** ms a connection may take to send CONNECT. */
  connectTimeout: number
  /** ms between WebSocket pings that keep idle proxies from closing the socket; 0 = none. */
  wsPingInterval: number
  /**
   * Most bytes of STOMP frames the server puts in one WebSocket message (a larger frame goes
   * alone); 0 = one frame per message. Tomcat's WebSocket client (under Spring's
   * WebSocketStompClient) closes the connection on a text message over 8 KiB.
   */
  wsMaxMessageBytes: number
  maxFrameSize: number
  maxHeaders: number
  maxHeaderLineLength: number
  maxSubscriptions: number
  /** Outbound bytes buffered per connection before the broker stops writing to it. */
  highWaterMark: number
  /** Messages a topic subscriber may fall behind by before it is dropped as a slow consumer. */
  slowConsumerBacklog: number
  /** Redeliveries before a queue message moves to /queue/DLQ.<name>. */
  maxRedeliveries: number
  /** Messages a queue keeps waiting; 0 = unlimited. */
  queueMaxLength: number
  /** Body bytes a queue keeps waiting; 0 = unlimited. */
  queueMaxBytes: number
  queueOverflow: OverflowPolicy
}

export const DEFAULTS: Readonly<StompdConfig> = Object.freeze({
  host: '0.0.0.0',
  port: 15674,
  tcpPort: 61613,
  store: 'sqlite:./data/stompd.db',
  storeSync: 'normal',
  storeCommitInterval: 0,
  redis: '',
  users: '',
  jwtSecret: '',
  jwtPublicKey: '',
  jwtJwks: '',
  jwtIssuer: '',
  jwtAudience: '',
  acl: '',
  tlsCert: '',
  tlsKey: '',
  tlsPort: 61614,
  tlsCa: '',
  tlsClientAuth: 'none',
  allowedOrigins: '',
  maxConnections: 0,
  maxConnectionsPerIp: 0,
  // Off by default: behind a reverse proxy every client has the proxy's address.
  offenderDelay: 0,
  dedupWindow: 10 * 60_000,
  dedupMaxIds: 100_000,
  otel: false,
  examples: false,
  maxTransactions: 100,
  // RabbitMQ's limit too; 10,000 held frames per transaction, promoted and dropped by the
  // thousand, cost other clients 37 ms at p99 in collections (npm run bench -- abuse).
  maxTransactionFrames: 1024,
  maxUnacked: 10_000,
  maxPublishRate: 0,
  logLevel: 'info',
  heartBeat: [1000, 1000],
  heartbeatGrace: 2,
  connectTimeout: 10_000,
  wsPingInterval: 25_000,
  wsMaxMessageBytes: 8 * 1024,
  // RabbitMQ's STOMP takes 16 MiB; 32 MiB doubled the peak memory under 20 MB frames (npm run bench -- frame-limit).
  maxFrameSize: 16 * 1024 * 1024,
  maxHeaders: 100,
  maxHeaderLineLength: 8 * 1024,
  maxSubscriptions: 1000,
  highWaterMark: 1024 * 1024,
  slowConsumerBacklog: 10_000,
  maxRedeliveries: 5,
  queueMaxLength: 0,
  queueMaxBytes: 0,
  queueOverflow: 'drop-head',
} as StompdConfig)

export class ConfigError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

type Key = keyof StompdConfig
type Parser<K extends Key> = (raw: unknown, where: string) => StompdConfig[K]

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

function text(raw: unknown, where: string): string {
  if (typeof raw !== 'string') throw new ConfigError(`${where} must be a string`)
  return raw
}

function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (raw: unknown, where: string): number => {
    const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(`${where} must be a whole number from ${min} to ${max}, not ${JSON.stringify(raw)}`)
    }
    return value
  }
}

/** true/false (also on/off, 1/0, yes/no); a flag given without a value is true. */
function boolean(raw: unknown, where: string): boolean {
  if (typeof raw === 'boolean') return raw
  const value = typeof raw === 'string' ? raw.trim().toLowerCase() : raw
  if (value === 'true' || value === 'on' || value === '1' || value === 'yes') return true
  if (value === 'false' || value === 'off' || value === '0' || value === 'no') return false
  throw new ConfigError(`${where} must be true or false, not ${JSON.stringify(raw)}`)
}

function oneOf<T extends string>(choices: readonly T[]) {
  return (raw: unknown, where: string): T => {
    if (typeof raw !== 'string' || !choices.includes(raw as T)) {
      throw new ConfigError(`${where} must be one of ${choices.join(', ')}, not ${JSON.stringify(raw)}`)
    }
    return raw as T
  }
}

const port = integer(0, 65535)

const PARSERS: { [K in Key]: Parser<K> } = {
  host: text,
  port,
  tcpPort: (raw, where) => (raw === 'off' || raw === false ? 'off' : port(raw, where)),
  store: (raw, where) => {
    const value = text(raw, where)
    if (value !== 'memory' && !/^sqlite:.+/.test(value)) throw new ConfigError(`${where} must be "memory" or "sqlite:<path>", not ${JSON.stringify(value)}`)
    return value
  },
  storeSync: oneOf(['normal', 'full'] as const),
  storeCommitInterval: integer(0, 1000),
  redis: (raw, where) => {
    const value = text(raw, where)
    if (value !== '' && parseRedisUrl(value) === null) throw new ConfigError(`${where} must be ${REDIS_URL_FORMS}, not ${JSON.stringify(value)}`)
    return value
  },
  users: text,
  jwtSecret: text,
  jwtPublicKey: text,
  jwtJwks: (raw, where) => {
    const value = text(raw, where)
    if (value !== '' && !/^https?:\/\//.test(value)) throw new ConfigError(`${where} must be an http(s):// URL, not ${JSON.stringify(value)}`)
    return value
  },
  jwtIssuer: text,
  jwtAudience: text,
  acl: text,
  tlsCert: text,
  tlsKey: text,
  tlsPort: (raw, where) => (raw === 'off' || raw === false ? 'off' : port(raw, where)),
  tlsCa: text,
  tlsClientAuth: oneOf(['none', 'optional', 'required'] as const),
  allowedOrigins: text,
  maxConnections: integer(0),
  maxConnectionsPerIp: integer(0),
  offenderDelay: integer(0, 60_000),
  dedupWindow: integer(0),
  dedupMaxIds: integer(1),
  otel: boolean,
  examples: boolean,
  maxTransactions: integer(1),
  maxTransactionFrames: integer(1),
  maxUnacked: integer(0),
  maxPublishRate: integer(0),
  logLevel: oneOf(LOG_LEVELS),
  heartBeat: (raw, where) => {
    const parts = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : []
    if (parts.length !== 2) throw new ConfigError(`${where} must be two numbers of milliseconds, "send,receive", not ${JSON.stringify(raw)}`)
    const ms = integer(0, 2_147_483_647)
    return [ms(parts[0], where), ms(parts[1], where)]
  },
  heartbeatGrace: (raw, where) => {
    const value = typeof raw === 'string' ? Number(raw) : raw
    if (typeof value !== 'number' || !(value >= 1) || !Number.isFinite(value)) throw new ConfigError(`${where} must be a number ≥ 1, not ${JSON.stringify(raw)}`)
    return value
  },
  connectTimeout: integer(1),
  wsPingInterval: integer(0),
  wsMaxMessageBytes: integer(0),
  maxFrameSize: integer(1024),
  maxHeaders: integer(1, 10_000),
  maxHeaderLineLength: integer(64),
  maxSubscriptions: integer(1),
  highWaterMark: integer(1024),
  slowConsumerBacklog: integer(1),
  maxRedeliveries: integer(0),
  queueMaxLength: integer(0),
  queueMaxBytes: integer(0),
  queueOverflow: oneOf(['drop-head', 'reject-publish'] as const),
}

const KEYS = Object.keys(PARSERS) as Key[]

/** `tcpPort` → `tcp-port` (the CLI flag) and `TCP_PORT` (after STOMPD_ in the environment). */
export function flagName(key: Key): string {
  return key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())
}

function envName(key: Key): string {
  return 'STOMPD_' + flagName(key).replace(/-/g, '_').toUpperCase()
}

function keyFor(name: string): Key | undefined {
  const camel = name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())
  return KEYS.find((key) => key === camel)
}

/** Validates and fills in a partial config given programmatically (createServer options). */
export function resolveConfig(partial: Partial<Record<Key, unknown>> = {}): StompdConfig {
  const config = { ...DEFAULTS, heartBeat: [...DEFAULTS.heartBeat] } as StompdConfig
  for (const [name, raw] of Object.entries(partial)) {
    if (raw === undefined) continue
    const key = keyFor(name)
    if (key === undefined) throw new ConfigError(`unknown option ${JSON.stringify(name)}`)
    assign(config, key, raw, `option ${key}`)
  }
  return config
}

function assign<K extends Key>(config: StompdConfig, key: K, raw: unknown, where: string): void {
  config[key] = PARSERS[key](raw, where)
}

export interface CommandLine {
  config: StompdConfig
  help: boolean
  version: boolean
}

/** Reads the whole configuration: defaults, then `--config` file, then environment, then flags. */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): CommandLine {
  const flags = new Map<Key, string>()
  let configFile = env.STOMPD_CONFIG
  let help = false
  let version = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--help' || arg === '-h') { help = true; continue }
    if (arg === '--version' || arg === '-v') { version = true; continue }
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument ${JSON.stringify(arg)} (try --help)`)
    const eq = arg.indexOf('=')
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq)
    const switchKey = keyFor(name)
    // A switch (--otel) needs no value: alone, or before another flag, it is on.
    if (eq < 0 && switchKey !== undefined && PARSERS[switchKey] === boolean && (argv[i + 1] === undefined || argv[i + 1]!.startsWith('--'))) {
      flags.set(switchKey, 'true')
      continue
    }
    const key = keyFor(name)
    if (name !== 'config' && (key === undefined || flagName(key) !== name)) throw new ConfigError(`unknown flag --${name} (try --help)`)
    const value = eq < 0 ? argv[++i] : arg.slice(eq + 1)
    if (value === undefined) throw new ConfigError(`--${name} needs a value`)
    if (name === 'config' || key === undefined) { configFile = value; continue }
    flags.set(key, value)
  }

  const config = resolveConfig()
  if (configFile !== undefined && configFile !== '') {
    let parsed: unknown
    try {
      parsed = JSON.parse(readFileSync(configFile, 'utf8'))
    } catch (err) {
      throw new ConfigError(`cannot read config file ${configFile}: ${(err as Error).message}`)
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ConfigError(`config file ${configFile} must hold a JSON object`)
    for (const [name, raw] of Object.entries(parsed)) {
      const key = keyFor(name)
      if (key === undefined) throw new ConfigError(`unknown key ${JSON.stringify(name)} in ${configFile}`)
      assign(config, key, raw, `${name} in ${configFile}`)
    }
  }
  for (const key of KEYS) {
    const raw = env[envName(key)]
    if (raw !== undefined) assign(config, key, raw, envName(key))
  }
  for (const [key, raw] of flags) assign(config, key, raw, `--${flagName(key)}`)
  return { config, help, version }
}

/** What each option takes and does, for --help: every key has one (the type says so). */
const OPTION_HELP: { [K in Key]: [value: string, text: string] } = {
  host: ['<addr>', 'interface to bind'],
  port: ['<n>', 'HTTP + WebSocket port; 0 = any free port'],
  tcpPort: ['<n|off>', 'STOMP over TCP port; 0 = any free port, off = none'],
  store: ['<memory|sqlite:PATH>', 'message store'],
  storeSync: ['<normal|full>', 'normal survives a crash of the process; full (an fsync per commit) also a power cut'],
  storeCommitInterval: ['<ms>', 'gather store writes this long into one commit; 0 = one commit per event-loop turn'],
  redis: ['<url>', 'join a cluster: redis://, rediss://, redis-sentinel://h:p,.../<master>, redis-cluster://h:p,...'],
  users: ['<file>', 'users file (stompd passwd FILE USER writes it); without --users, --jwt-* or a hook anyone may connect'],
  jwtSecret: ['<file>', 'HS256 secret for JWTs'],
  jwtPublicKey: ['<pem>', 'public key for RS256/PS256/ES256/EdDSA JWTs'],
  jwtJwks: ['<url>', 'JSON Web Key Set URL for JWTs'],
  jwtIssuer: ['<iss>', 'required iss claim'],
  jwtAudience: ['<aud>', 'required aud claim'],
  acl: ['<file>', 'who may publish and subscribe where'],
  tlsCert: ['<pem>', 'certificate: wss:// on the HTTP port and STOMP over TLS on --tls-port'],
  tlsKey: ['<pem>', 'private key for --tls-cert'],
  tlsPort: ['<n>', 'STOMP over TLS port'],
  tlsCa: ['<pem>', 'CA that signs client certificates'],
  tlsClientAuth: ['<none|optional|required>', 'ask clients for a certificate (optional), or insist on one (required)'],
  allowedOrigins: ['<list>', 'comma-separated Origins a browser WebSocket may come from; empty = any'],
  maxConnections: ['<n>', 'connections at once; 0 = no limit'],
  maxConnectionsPerIp: ['<n>', 'connections at once per remote address; 0 = no limit'],
  offenderDelay: ['<ms>', 'longest wait before reading a new connection from an address that broke the protocol or a limit; 0 = off'],
  dedupWindow: ['<ms>', "a SEND's dedup-id is published once per destination within it; 0 = off"],
  dedupMaxIds: ['<n>', 'most dedup-ids remembered per destination'],
  otel: ['', 'spans for publishes and deliveries to OTEL_EXPORTER_OTLP_ENDPOINT (OTLP/HTTP); a switch'],
  examples: ['', 'serve the browser demo (a chat room, a job queue) under /examples/; a switch'],
  maxTransactions: ['<n>', 'open transactions per connection'],
  maxTransactionFrames: ['<n>', 'frames held in one transaction'],
  maxUnacked: ['<n>', 'messages delivered and not acked per connection; 0 = no limit'],
  maxPublishRate: ['<n>', 'SENDs per second per connection; 0 = no limit'],
  logLevel: ['<level>', 'fatal, error, warn, info, debug, trace or silent'],
  heartBeat: ['<sx,sy>', 'heart-beats the server offers, ms'],
  heartbeatGrace: ['<n>', 'heart-beat periods a connection may miss before it is closed'],
  connectTimeout: ['<ms>', 'time to send CONNECT after connecting'],
  wsPingInterval: ['<ms>', 'WebSocket ping interval; 0 = none'],
  wsMaxMessageBytes: ['<bytes>', 'most bytes in one WebSocket message (Tomcat/Spring clients close over 8 KiB); 0 = one frame per message'],
  maxFrameSize: ['<bytes>', 'largest frame a client may send'],
  maxHeaders: ['<n>', 'headers per frame'],
  maxHeaderLineLength: ['<bytes>', 'longest header line'],
  maxSubscriptions: ['<n>', 'subscriptions per connection'],
  highWaterMark: ['<bytes>', 'outbound bytes buffered per connection before the broker stops writing'],
  slowConsumerBacklog: ['<n>', 'messages a topic subscriber may fall behind before it is closed'],
  maxRedeliveries: ['<n>', 'deliveries before a message moves to /queue/DLQ.<name>'],
  queueMaxLength: ['<n>', 'default most messages per queue; 0 = no limit'],
  queueMaxBytes: ['<bytes>', 'default most bytes per queue; 0 = no limit'],
  queueOverflow: ['<drop-head|reject-publish>', 'what a full queue does'],
}

function defaultText(key: Key): string {
  const value = DEFAULTS[key]
  if (value === '') return 'none'
  return Array.isArray(value) ? value.join(',') : String(value)
}

/** `stompd --help`: every option, what it takes, its default and its environment variable. */
export const USAGE = `Usage: stompd [options]
       stompd passwd FILE USER [--role ROLE]   add or change a user in a users file

Options (each also STOMPD_<NAME> in the environment and a key in a --config JSON file;
flags win over the environment, which wins over the file):

  --config <file>  JSON config file (keys camelCase or kebab-case)
${KEYS.map((key) => {
  const [value, text] = OPTION_HELP[key]
  return `  --${flagName(key)}${value === '' ? '' : ' ' + value}  ${text}\n      default ${defaultText(key)}; env ${envName(key)}`
}).join('\n')}
  --help, -h  this text
  --version, -v  the version
`

// createServer(options) → { listen, close }: the broker as a library. Wires the broker,
// the session context, the WebSocket route (Fastify) and the TCP listener together.
import type { AddressInfo } from 'node:net'
import type net from 'node:net'
import type tls from 'node:tls'
import Fastify, { LogController, type FastifyInstance } from 'fastify'
import pino, { type Logger } from 'pino'
import { Broker } from './broker/broker.js'
import { MemoryStore } from './store/memory.js'
import { SqliteStore } from './store/sqlite.js'
import type { Store } from './store/store.js'
import { ConfigError, resolveConfig, type StompdConfig } from './config.js'
import { StompError } from './errors.js'
import { httpApp } from './http/app.js'
import { managementApi } from './http/api.js'
import { examplePages } from './http/examples.js'
import { createMetrics } from './http/metrics.js'
import { Flusher } from './session/flusher.js'
import { HeartbeatMonitor } from './session/heartbeat.js'
import { Session, type SessionContext, type SessionStats } from './session/session.js'
import type { IncomingMessage } from 'node:http'
import { readAclFile } from './auth/acl.js'
import { setUpAuth, type AuthenticateHook } from './auth/setup.js'
import { FailureThrottle } from './auth/throttle.js'
import type { Backplane } from './broker/backplane.js'
import { RedisBackplane } from './cluster/redis-backplane.js'
import { RedisQueues } from './cluster/redis-queues.js'
import { parseRedisUrl } from './cluster/redis-url.js'
import { ShardedBackplane } from './cluster/sharded-backplane.js'
import type { UsersFileAuthenticator } from './auth/users.js'
import { Admission } from './transport/admission.js'
import type { Connection } from './transport/connection.js'
import { createTcpServer, createTlsServer } from './transport/tcp.js'
import { readTlsOptions, type TlsFiles } from './transport/tls.js'
import { webSocketTransport } from './transport/websocket.js'
import { VERSION } from './version.js'

export type ServerOptions = Partial<StompdConfig> & {
  /** A pino logger to use instead of one made from `logLevel`. */
  logger?: Logger
  /** Checks CONNECT's login and passcode the embedder's way (after --users and JWTs, if also configured). */
  authenticate?: AuthenticateHook
  /** Joins a cluster through this backplane instead of the one --redis makes (several brokers in one process). */
  backplane?: Backplane
  /**
   * Mounts on this Fastify instance instead of making one (the Fastify plugin, lib/plugin.ts):
   * its server carries the WebSocket upgrades, listen() does not listen on HTTP, and close()
   * leaves the instance to its owner.
   */
  fastify?: FastifyInstance
  /** WebSocket paths (default `/ws` and `/stomp`). */
  wsPaths?: readonly string[]
  /** Prefix of the HTTP routes (/healthz, /readyz, /metrics); default none. */
  httpPrefix?: string
}

export interface ListenAddresses {
  /** `ws://host:port/ws`, or `wss://` with TLS */
  ws: string
  /** `http://host:port`, or `https://` with TLS */
  http: string
  /** `host:port`, or null when the TCP listener is off. */
  tcp: string | null
  port: number
  tcpPort: number | null
  /** STOMP over TLS: `host:port`, or null without TLS. */
  tls: string | null
  tlsPort: number | null
}

export interface StompdServer {
  readonly config: StompdConfig
  readonly broker: Broker
  readonly logger: Logger
  /** Open sessions (one per connection). */
  readonly sessions: ReadonlySet<Session>
  readonly addresses: ListenAddresses | null
  listen(): Promise<ListenAddresses>
  /** Stops accepting, sends ERROR `server shutting down` to every session, closes them and the listeners. */
  close(): Promise<void>
  /** Re-reads what SIGHUP re-reads: the users file, the ACL and the TLS certificate. Throws (keeping the old ones) when one is broken. */
  reload(): void
}

/** How long shutdown waits for clients to go before dropping their sockets. */
const SHUTDOWN_GRACE_MS = 3000
const WS_PATHS = ['/ws', '/stomp']
/** How long listen() waits for Redis before starting without it. */
const REDIS_START_WAIT_MS = 3000
/** Bytes a WebSocket message may carry beyond --max-frame-size: room for a few small frames batched with a large one. */
const WS_MESSAGE_SLACK = 64 * 1024

/** --redis's backplane: pub/sub on one Redis, node-to-node inboxes on sharded pub/sub for a Redis Cluster. */
function redisBackplane(url: string, logger: Logger): RedisBackplane | ShardedBackplane | null {
  if (url === '') return null
  return parseRedisUrl(url)?.kind === 'cluster' ? new ShardedBackplane(url, logger) : new RedisBackplane(url, logger)
}

export function createServer(options: ServerOptions = {}): StompdServer {
  const { logger: givenLogger, authenticate, backplane: givenBackplane, fastify: host, wsPaths = WS_PATHS, httpPrefix, ...rest } = options
  const config = resolveConfig(rest)
  const logger = givenLogger ?? pino({ level: config.logLevel, base: { service: 'stompd' } })
  const store = openStore(config)
  const backplane = givenBackplane ?? redisBackplane(config.redis, logger)
  // With --redis the cluster's queues live in Redis Streams, whatever --store says.
  const sharedQueues = config.redis === '' || backplane === null ? null : new RedisQueues(config.redis, backplane.nodeId, logger)
  const broker = new Broker({
    queue: { maxRedeliveries: config.maxRedeliveries, maxLength: config.queueMaxLength, maxBytes: config.queueMaxBytes, overflow: config.queueOverflow },
    topic: { maxBacklog: config.slowConsumerBacklog },
    dedup: { windowMs: config.dedupWindow, maxIds: config.dedupMaxIds },
  }, store, backplane, sharedQueues)
  const sessions = new Set<Session>()
  const stats: SessionStats = { connections: 0, delivered: 0, slowConsumers: 0, closed: {}, refused: {} }
  const heartbeats = new HeartbeatMonitor()
  const admission = new Admission(config.maxConnections, config.maxConnectionsPerIp)
  const context: SessionContext = {
    broker,
    auth: null,
    admission,
    offenders: config.offenderDelay === 0 ? null : new FailureThrottle(config.offenderDelay),
    acl: config.acl === '' ? null : readAclFile(config.acl),
    heartbeats,
    flusher: new Flusher(),
    logger,
    sessions,
    stats,
    options: {
      serverName: `stompd/${VERSION}`,
      heartBeat: config.heartBeat,
      heartbeatGrace: config.heartbeatGrace,
      connectTimeout: config.connectTimeout,
      maxSubscriptions: config.maxSubscriptions,
      maxTransactions: config.maxTransactions,
      maxTransactionFrames: config.maxTransactionFrames,
      maxUnacked: config.maxUnacked,
      maxPublishRate: config.maxPublishRate,
      highWaterMark: config.highWaterMark,
      keepAliveInterval: config.wsPingInterval,
      decoderLimits: { maxFrameSize: config.maxFrameSize, maxHeaders: config.maxHeaders, maxHeaderLineLength: config.maxHeaderLineLength },
    },
  }
  const accept = (connection: Connection): void => {
    if (closing) return connection.close('shutdown')
    // WebSocket upgrades were admitted already; a TCP client hears why in an ERROR frame.
    const refusal = connection.transport === 'tcp' ? admission.refusal(connection.remote) : null
    const session = new Session(connection, context)
    if (refusal !== null) session.fail(new StompError(refusal, `the server takes no more connections${refusal === 'too-many-connections' ? '' : ' from this address'} now; try again later`))
  }
  const origins = allowedOrigins(config.allowedOrigins)
  /** A WebSocket upgrade's verdict: null, or the HTTP status it is refused with. */
  const admit = (request: IncomingMessage): string | null => {
    const origin = request.headers.origin
    // Browsers always send Origin; a client without one (a service) is not a page that could be hijacked.
    if (origins !== null && origin !== undefined && !origins.has(origin.toLowerCase())) return refused('origin', '403 Forbidden')
    const refusal = admission.refusal(`${request.socket.remoteAddress}:${request.socket.remotePort}`)
    return refusal === null ? null : refused(refusal, '503 Service Unavailable')
  }
  const refused = (reason: string, status: string): string => {
    stats.refused[reason] = (stats.refused[reason] ?? 0) + 1
    return status
  }

  let closing = false
  let users: UsersFileAuthenticator | null = null
  let addresses: ListenAddresses | null = null
  let tcpServer: net.Server | null = null
  let tlsServer: tls.Server | null = null
  const closeTimeout = SHUTDOWN_GRACE_MS

  const tlsFiles = tlsFilesOf(config)
  const tlsOptions = tlsFiles === null ? null : readTlsOptions(tlsFiles)
  // Probes and scrapes every few seconds would drown the connection events in request lines.
  // With a certificate the HTTP port speaks HTTPS, so WebSocket clients use wss://.
  const app = host ?? Fastify({
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
    ...(tlsOptions === null ? {} : { https: tlsOptions }),
  }) as unknown as FastifyInstance // the HTTPS server's type differs only in what we never touch
  const metrics = createMetrics({ broker, stats, openSessions: () => sessions.size })
  void app.register(httpApp, {
    routePrefix: httpPrefix,
    metrics,
    readiness: async () => {
      if (closing) return { ready: false, detail: 'shutting down' }
      if (store.problem !== null) return { ready: false, detail: `store: ${store.problem}` }
      if (backplane !== null && backplane.problem !== null) return { ready: false, detail: `cluster: ${backplane.problem}` }
      if (sharedQueues !== null && sharedQueues.problem !== null) return { ready: false, detail: `cluster: ${sharedQueues.problem}` }
      return { ready: true }
    },
  })
  void app.register(managementApi, {
    routePrefix: httpPrefix,
    dashboardPaths: host === undefined ? ['/', '/dashboard'] : [`${httpPrefix ?? ''}/dashboard`],
    broker,
    sessions,
    stats,
    store,
    clustered: backplane !== null,
    clusterProblem: () => backplane?.problem ?? sharedQueues?.problem ?? null,
    auth: () => context.auth,
  })
  if (config.examples) void app.register(examplePages, { routePrefix: httpPrefix })
  void app.register(webSocketTransport, {
    paths: wsPaths,
    otherPaths: host === undefined ? 'refuse' : 'ignore',
    // ws refuses a longer message from its frame header, before buffering any of it (the session
    // still answers with ERROR `frame too large`); the slack lets a client batch a few frames.
    maxPayload: config.maxFrameSize + WS_MESSAGE_SLACK,
    maxMessageBytes: config.wsMaxMessageBytes,
    highWaterMark: config.highWaterMark,
    closeTimeout,
    onConnection: accept,
    admit,
    onShutdown: () => shutdownSessions(),
  })

  /** Says goodbye to every session and waits (bounded) for their sockets to close. */
  async function shutdownSessions(): Promise<void> {
    const open = [...sessions]
    if (open.length === 0) return
    const gone = new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (sessions.size === 0) {
          clearInterval(check)
          resolve()
        }
      }, 20)
      setTimeout(() => {
        clearInterval(check)
        resolve()
      }, closeTimeout + 500).unref()
    })
    for (const session of open) session.fail(new StompError('server-shutdown', 'the server is shutting down; reconnect later'))
    await gone
  }

  return {
    config,
    broker,
    logger,
    sessions,
    get addresses() {
      return addresses
    },

    async listen(): Promise<ListenAddresses> {
      // Credentials files are read (and a bad one refused) before anyone can connect.
      const auth = await setUpAuth(config, authenticate, logger, tlsFiles?.clientAuth ?? 'none')
      context.auth = auth.gate
      users = auth.users
      // Every stored message is back in its queue before the first client can connect.
      await broker.recover()
      // A cluster member starts even with Redis away (it keeps trying; /readyz says so), but
      // gives it a moment first, so a node started beside Redis is ready when it listens.
      if (backplane instanceof RedisBackplane || backplane instanceof ShardedBackplane) await backplane.ready(REDIS_START_WAIT_MS).catch((err: Error) => logger.warn({ err: err.message }, 'starting without redis; it is retried'))
      sharedQueues?.start()
      // OpenTelemetry is loaded only when asked for: without --otel it costs nothing, not even its import.
      if (config.otel) broker.tracing = (await import('./tracing/otel.js')).startOtel()
      // A plugin's HTTP port is its host app's, which listens when its owner says.
      if (host === undefined) await app.listen({ host: config.host, port: config.port })
      const httpAddress = (app.server.address() as AddressInfo | null) ?? { port: 0 }
      const tcpOptions = { highWaterMark: config.highWaterMark, closeTimeout }
      let tcpPort: number | null = null
      if (config.tcpPort !== 'off') {
        tcpServer = createTcpServer(tcpOptions, accept)
        tcpPort = await listenOn(tcpServer, config.host, config.tcpPort, 'tcp', logger)
      }
      let tlsPort: number | null = null
      if (tlsOptions !== null && config.tlsPort !== 'off') {
        tlsServer = createTlsServer(tlsOptions, tcpOptions, accept)
        tlsPort = await listenOn(tlsServer, config.host, config.tlsPort, 'tls', logger)
      }
      const hostName = formatHost(config.host)
      const secure = tlsOptions === null ? '' : 's'
      addresses = {
        ws: `ws${secure}://${hostName}:${httpAddress.port}${wsPaths[0]}`,
        http: `http${secure}://${hostName}:${httpAddress.port}`,
        tcp: tcpPort === null ? null : `${hostName}:${tcpPort}`,
        port: httpAddress.port,
        tcpPort,
        tls: tlsPort === null ? null : `${hostName}:${tlsPort}`,
        tlsPort,
      }
      return addresses
    },

    reload(): void {
      users?.reload()
      // Sessions make their decisions again on their next check.
      if (config.acl !== '') context.acl = readAclFile(config.acl)
      if (tlsFiles !== null) {
        // New handshakes use the new certificate; connections already open keep theirs.
        const renewed = readTlsOptions(tlsFiles)
        ;(app.server as unknown as tls.Server).setSecureContext(renewed)
        tlsServer?.setSecureContext(renewed)
      }
    },

    async close(): Promise<void> {
      if (closing) return
      closing = true
      const tcpClosed = Promise.all([tcpServer, tlsServer].map((server) => server === null ? undefined : new Promise<void>((resolve) => server.close(() => resolve()))))
      // Fastify's preClose hook (the WebSocket plugin's) shuts every session down, TCP ones included.
      // A host app is its owner's to close (it is closing when it calls this, from its onClose).
      if (host === undefined) await app.close()
      await shutdownSessions()
      await tcpClosed
      heartbeats.stop()
      // In-flight commits finish before the process goes.
      await broker.close()
      // Spans not yet exported go out before the process does.
      await broker.tracing?.shutdown().catch((err: Error) => logger.warn({ err: err.message }, 'otel: spans could not be exported'))
      // Only the backplane this server made: an embedder's is the embedder's to close.
      if (givenBackplane === undefined) await backplane?.close()
      await sharedQueues?.close()
    },
  }
}

/** The configured store; a StoreOpenError (one line) when it cannot be opened. */
function openStore(config: StompdConfig): Store {
  if (config.store === 'memory') return new MemoryStore()
  return SqliteStore.open({ path: config.store.slice('sqlite:'.length), synchronous: config.storeSync, commitInterval: config.storeCommitInterval })
}

/** The TLS files the configuration names, or null without TLS; half a pair is a configuration error. */
function tlsFilesOf(config: StompdConfig): TlsFiles | null {
  if (config.tlsCert === '' && config.tlsKey === '') return null
  if (config.tlsCert === '' || config.tlsKey === '') throw new ConfigError('--tls-cert and --tls-key go together: give both, or neither')
  if (config.tlsClientAuth !== 'none' && config.tlsCa === '') throw new ConfigError(`--tls-client-auth ${config.tlsClientAuth} needs --tls-ca, the CA client certificates must chain to`)
  return { cert: config.tlsCert, key: config.tlsKey, ca: config.tlsCa, clientAuth: config.tlsClientAuth }
}

/** Listens; resolves with the port bound (`port` 0 picks one). */
async function listenOn(server: net.Server, host: string, port: number, name: string, logger: Logger): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host, port }, () => {
      server.off('error', reject)
      resolve()
    })
  })
  server.on('error', (err) => logger.error({ err }, `${name} listener error`))
  return (server.address() as AddressInfo).port
}

/** The origins --allowed-origins names, lower-cased; null when any origin may connect. */
function allowedOrigins(list: string): ReadonlySet<string> | null {
  const origins = list.split(',').map((origin) => origin.trim().toLowerCase().replace(/\/+$/, '')).filter((origin) => origin !== '')
  return origins.length === 0 || origins.includes('*') ? null : new Set(origins)
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host
}

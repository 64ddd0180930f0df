// Configuration: defaults < config file < STOMPD_* environment < CLI flags, validated once,
// with a clear ConfigError for anything invalid. The environment is passed in, never read here.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { ConfigError, DEFAULTS, flagName, loadConfig, resolveConfig, USAGE, type StompdConfig } from '../lib/config.js'

const testDirs = new WeakMap<Test, string>()

/** Writes `content` (JSON unless a string) to a file in the test's own directory and returns its path. */
function configFile(t: Test, content: unknown, name = 'stompd.json'): string {
  let dir = testDirs.get(t)
  if (dir === undefined) {
    // t.testdir() makes a fresh directory per call, so make it once per test and add files to it.
    dir = t.testdir({})
    testDirs.set(t, dir)
  }
  const path = join(dir, name)
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content))
  return path
}

t.test('with no flags, file or environment every option has its documented default', async (t) => {
  const { config, help, version } = loadConfig([], {})
  t.same(config, DEFAULTS)
  t.equal(help, false)
  t.equal(version, false)
  t.equal(config.host, '0.0.0.0')
  t.equal(config.port, 15674)
  t.equal(config.tcpPort, 61613)
  t.equal(config.store, 'sqlite:./data/stompd.db')
  t.same(config.heartBeat, [1000, 1000])
  t.equal(config.heartbeatGrace, 2)
  t.equal(config.connectTimeout, 10_000)
  t.equal(config.maxFrameSize, 16 * 1024 * 1024)
  t.equal(config.maxHeaders, 100)
  t.equal(config.maxHeaderLineLength, 8 * 1024)
  t.equal(config.maxSubscriptions, 1000)
  t.equal(config.maxRedeliveries, 5)
})

t.test('a loaded config does not share its heart-beat array with the defaults', async (t) => {
  const { config } = loadConfig([], {})
  config.heartBeat[0] = 1
  t.same(DEFAULTS.heartBeat, [1000, 1000])
  t.same(resolveConfig().heartBeat, [1000, 1000])
})

t.test('the config file overrides defaults, the environment overrides the file, flags override both', async (t) => {
  const file = configFile(t, { host: '10.0.0.1', port: 1000, tcpPort: 1001, logLevel: 'warn', maxHeaders: 50 })
  const env = { STOMPD_PORT: '2000', STOMPD_TCP_PORT: '2001', STOMPD_MAX_HEADERS: '60' }
  const { config } = loadConfig(['--config', file, '--port', '3000'], env)
  t.equal(config.port, 3000, 'flag beats environment and file')
  t.equal(config.tcpPort, 2001, 'environment beats file')
  t.equal(config.maxHeaders, 60, 'environment beats file')
  t.equal(config.logLevel, 'warn', 'file beats default')
  t.equal(config.host, '10.0.0.1', 'file beats default')
  t.equal(config.store, DEFAULTS.store, 'untouched options keep their default')
})

t.test('each layer on its own changes only what it names', async (t) => {
  const file = configFile(t, { port: 1000 })
  t.equal(loadConfig(['--config', file], {}).config.port, 1000, 'file')
  t.equal(loadConfig([], { STOMPD_PORT: '2000' }).config.port, 2000, 'environment')
  t.equal(loadConfig(['--port', '3000'], {}).config.port, 3000, 'flag')
  t.equal(loadConfig(['--port=3001'], {}).config.port, 3001, '--flag=value')
  t.equal(loadConfig(['--port', '3000'], {}).config.tcpPort, DEFAULTS.tcpPort)
})

t.test('the config file may be named by STOMPD_CONFIG, and --config wins over it', async (t) => {
  const fromEnv = configFile(t, { port: 1111 }, 'env.json')
  const fromFlag = configFile(t, { port: 2222 }, 'flag.json')
  t.equal(loadConfig([], { STOMPD_CONFIG: fromEnv }).config.port, 1111)
  t.equal(loadConfig(['--config', fromFlag], { STOMPD_CONFIG: fromEnv }).config.port, 2222)
})

t.test('config file keys may be camelCase or kebab-case', async (t) => {
  const file = configFile(t, { 'tcp-port': 4000, 'log-level': 'debug', heartBeat: [1000, 2000], 'max-frame-size': 65536 })
  const { config } = loadConfig(['--config', file], {})
  t.equal(config.tcpPort, 4000)
  t.equal(config.logLevel, 'debug')
  t.same(config.heartBeat, [1000, 2000])
  t.equal(config.maxFrameSize, 65536)
})

t.test('every option has a kebab-case flag and a STOMPD_ variable', async (t) => {
  t.equal(flagName('tcpPort'), 'tcp-port')
  t.equal(flagName('maxHeaderLineLength'), 'max-header-line-length')
  t.equal(loadConfig(['--max-header-line-length', '100'], {}).config.maxHeaderLineLength, 100)
  t.equal(loadConfig([], { STOMPD_MAX_HEADER_LINE_LENGTH: '200' }).config.maxHeaderLineLength, 200)
  t.equal(loadConfig([], { STOMPD_LOG_LEVEL: 'error' }).config.logLevel, 'error')
  for (const key of Object.keys(DEFAULTS) as Array<keyof StompdConfig>) {
    const flag = flagName(key)
    const env = 'STOMPD_' + flag.replace(/-/g, '_').toUpperCase()
    const entry = new RegExp(`  --${flag}\\b[^\\n]*\\n      default [^\\n]*; env ${env}\\n`)
    t.match(USAGE, entry, `--help lists --${flag} with what it does, its default and ${env}`)
  }
  t.match(USAGE, /--max-frame-size <bytes>[^\n]*\n      default 16777216; env STOMPD_MAX_FRAME_SIZE/)
})

t.test('an unknown flag is named as unknown even without a value; a bad value names the flag', async (t) => {
  t.throws(() => loadConfig(['--bogus'], {}), /unknown flag --bogus/)
  t.throws(() => loadConfig(['--port', '1', '--bogus', 'x'], {}), /unknown flag --bogus/)
  t.throws(() => loadConfig(['--port'], {}), /--port needs a value/)
})

t.test('heart-beat is "send,receive" in flags and the environment, an array in the file', async (t) => {
  t.same(loadConfig(['--heart-beat', '5000,6000'], {}).config.heartBeat, [5000, 6000])
  t.same(loadConfig([], { STOMPD_HEART_BEAT: '0,0' }).config.heartBeat, [0, 0])
  t.same(loadConfig(['--config', configFile(t, { heartBeat: [100, 200] })], {}).config.heartBeat, [100, 200])
  t.same(loadConfig(['--config', configFile(t, { heartBeat: '300,400' })], {}).config.heartBeat, [300, 400])
})

t.test('--tcp-port off disables the TCP listener', async (t) => {
  t.equal(loadConfig(['--tcp-port', 'off'], {}).config.tcpPort, 'off')
  t.equal(loadConfig(['--tcp-port=off'], {}).config.tcpPort, 'off')
  t.equal(loadConfig([], { STOMPD_TCP_PORT: 'off' }).config.tcpPort, 'off')
  t.equal(loadConfig(['--config', configFile(t, { tcpPort: 'off' })], {}).config.tcpPort, 'off')
  t.equal(loadConfig(['--config', configFile(t, { tcpPort: false })], {}).config.tcpPort, 'off')
  t.equal(loadConfig(['--tcp-port', '0'], {}).config.tcpPort, 0, '0 still means any free port')
  t.equal(loadConfig(['--tcp-port', 'off'], { STOMPD_TCP_PORT: '5000' }).config.tcpPort, 'off', 'a flag turns off what the environment set')
  t.equal(loadConfig(['--tcp-port', '5000'], { STOMPD_TCP_PORT: 'off' }).config.tcpPort, 5000, 'and turns on what it turned off')
})

t.test('--help and --version are recognised', async (t) => {
  t.equal(loadConfig(['--help'], {}).help, true)
  t.equal(loadConfig(['-h'], {}).help, true)
  t.equal(loadConfig(['--version'], {}).version, true)
  t.equal(loadConfig(['-v'], {}).version, true)
  t.match(USAGE, /^Usage: stompd/)
})

/** Asserts that loading throws a ConfigError whose one-line message matches every pattern. */
function refuses(t: Test, load: () => unknown, ...patterns: Array<RegExp | string>): void {
  let error: unknown
  try {
    load()
  } catch (err) {
    error = err
  }
  t.ok(error instanceof ConfigError, 'a ConfigError is thrown')
  if (!(error instanceof ConfigError)) return
  t.equal(error.name, 'ConfigError')
  t.notMatch(error.message, /\n/, 'the message is one line')
  for (const pattern of patterns) t.match(error.message, pattern)
}

t.test('--redis takes redis://, rediss://, redis-sentinel://host:port,host:port/<master> and redis-cluster://host:port,...', async (t) => {
  for (const url of ['redis://cache:6379', 'rediss://user:pw@cache:6380/2', 'redis-sentinel://s1:26379,s2:26379/mymaster', 'redis-cluster://r1:7000,r2:7001', 'redis-cluster://r1']) {
    t.equal(loadConfig(['--redis', url], {}).config.redis, url)
  }
})

t.test('--otel is a switch: alone or before another flag it is on; =false, env and config file say so too', async (t) => {
  t.equal(loadConfig([], {}).config.otel, false, 'off by default')
  t.equal(loadConfig(['--otel'], {}).config.otel, true)
  t.equal(loadConfig(['--otel', '--port', '1'], {}).config.otel, true)
  t.equal(loadConfig(['--otel=false'], {}).config.otel, false)
  t.equal(loadConfig(['--otel', 'off'], {}).config.otel, false)
  t.equal(loadConfig([], { STOMPD_OTEL: 'on' }).config.otel, true)
  t.throws(() => loadConfig(['--otel=maybe'], {}), /--otel must be true or false/)
})

t.test('invalid flags give a ConfigError that names the flag and the bad value', async (t) => {
  const cases: Array<[argv: string[], ...patterns: Array<RegExp | string>]> = [
    [['--port', 'abc'], '--port', /whole number from 0 to 65535/, '"abc"'],
    [['--port', '70000'], '--port', '"70000"'],
    [['--port', '-1'], '--port', '"-1"'],
    [['--port', '1.5'], '--port', '"1.5"'],
    [['--port', ''], '--port'],
    [['--tcp-port', 'on'], '--tcp-port', '"on"'],
    [['--log-level', 'chatty'], '--log-level', /one of fatal, error, warn, info, debug, trace, silent/, '"chatty"'],
    [['--store', 'postgres://db'], '--store', /"memory" or "sqlite:<path>"/],
    [['--store', 'sqlite:'], '--store'],
    [['--redis', 'http://cache:6379'], '--redis', /redis:\/\//, /redis-sentinel:\/\//, /redis-cluster:\/\//],
    [['--redis', 'redis-cluster://'], '--redis'],
    [['--redis', 'redis-sentinel://s1:26379'], '--redis', /<master>/],
    [['--heart-beat', '100'], '--heart-beat', /two numbers/],
    [['--heart-beat', 'a,b'], '--heart-beat'],
    [['--heart-beat', '1,2,3'], '--heart-beat'],
    [['--heartbeat-grace', '0.5'], '--heartbeat-grace', /≥ 1/],
    [['--max-frame-size', '10'], '--max-frame-size', /from 1024/],
    [['--max-headers', '0'], '--max-headers'],
    [['--queue-overflow', 'explode'], '--queue-overflow', /drop-head, reject-publish/],
    [['--nope', '1'], /unknown flag --nope/],
    [['--tcpPort', '1'], /unknown flag --tcpPort/],
    [['--port'], /--port needs a value/],
    [['serve'], /unexpected argument "serve"/],
  ]
  for (const [argv, ...patterns] of cases) {
    t.test(argv.join(' ') || '(empty)', async (t) => refuses(t, () => loadConfig(argv, {}), ...patterns))
  }
})

t.test('invalid environment values give a ConfigError that names the variable', async (t) => {
  refuses(t, () => loadConfig([], { STOMPD_PORT: 'abc' }), 'STOMPD_PORT', '"abc"')
  refuses(t, () => loadConfig([], { STOMPD_LOG_LEVEL: 'loud' }), 'STOMPD_LOG_LEVEL')
  refuses(t, () => loadConfig([], { STOMPD_HEART_BEAT: 'often' }), 'STOMPD_HEART_BEAT')
  refuses(t, () => loadConfig([], { STOMPD_TCP_PORT: 'maybe' }), 'STOMPD_TCP_PORT')
})

t.test('an environment value is still refused when a flag overrides it', async (t) => {
  // Validated once, every layer: a broken environment is reported even if a flag would win.
  refuses(t, () => loadConfig(['--port', '1'], { STOMPD_PORT: 'abc' }), 'STOMPD_PORT')
})

t.test('a bad config file gives a ConfigError that names the file', async (t) => {
  const missing = join(configFile(t, {}, 'present.json'), '..', 'missing.json')
  refuses(t, () => loadConfig(['--config', missing], {}), /cannot read config file/, missing)
  const broken = configFile(t, '{ "port": ', 'broken.json')
  refuses(t, () => loadConfig(['--config', broken], {}), /cannot read config file/, broken)
  const array = configFile(t, [1, 2], 'array.json')
  refuses(t, () => loadConfig(['--config', array], {}), /must hold a JSON object/)
  const unknown = configFile(t, { port: 1, bogus: true }, 'unknown.json')
  refuses(t, () => loadConfig(['--config', unknown], {}), /unknown key "bogus"/, unknown)
  const badValue = configFile(t, { port: 'eighty' }, 'bad-value.json')
  refuses(t, () => loadConfig(['--config', badValue], {}), /port in .*bad-value\.json must be a whole number/, '"eighty"')
  const fraction = configFile(t, { maxHeaders: 1.5 }, 'fraction.json')
  refuses(t, () => loadConfig(['--config', fraction], {}), 'maxHeaders')
})

t.test('createServer options are validated the same way', async (t) => {
  t.equal(resolveConfig({ port: 0, tcpPort: 'off' }).tcpPort, 'off')
  t.equal(resolveConfig({ maxFrameSize: 4096 }).maxFrameSize, 4096)
  refuses(t, () => resolveConfig({ port: -5 }), 'option port')
  refuses(t, () => resolveConfig({ bogus: 1 } as Record<string, unknown>), /unknown option "bogus"/)
  refuses(t, () => resolveConfig({ heartBeat: [1] }), 'option heartBeat')
})

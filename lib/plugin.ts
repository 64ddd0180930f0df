// stompd as a Fastify plugin: `app.register(stompd, { path: '/ws', store: 'sqlite:./data/stompd.db' })`
// mounts the broker on an app that already runs: WebSocket upgrades on the given paths of the
// app's own server, /healthz, /readyz and /metrics under a prefix (default /stompd), the app's
// pino logger, and the shutdown in the app's: its preClose says goodbye to every session, its
// onClose lets in-flight commits finish and closes the store. STOMP over TCP stays off unless
// `tcpPort` is given. createServer (lib/server.ts) is still the way to run stompd on its own.
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import type { Logger } from 'pino'
import { createServer, type ServerOptions, type StompdServer } from './server.js'

export type StompdPluginOptions = Omit<ServerOptions, 'fastify' | 'wsPaths' | 'httpPrefix' | 'logger'> & {
  /** WebSocket path(s) for STOMP clients; default `/ws`. */
  path?: string | readonly string[]
  /** Prefix of stompd's HTTP routes; default `/stompd`. */
  prefix?: string
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The broker the stompd plugin mounted. */
    stompd: StompdServer
  }
}

const plugin: FastifyPluginAsync<StompdPluginOptions> = async (fastify: FastifyInstance, options) => {
  const { path = '/ws', prefix = '/stompd', ...rest } = options
  const server = createServer({
    tcpPort: 'off',
    ...rest,
    fastify,
    wsPaths: typeof path === 'string' ? [path] : path,
    httpPrefix: prefix,
    logger: pinoOf(fastify),
  })
  // The store is recovered (and TCP listens, if asked) before the app is ready.
  await server.listen()
  fastify.decorate('stompd', server)
  fastify.addHook('onClose', async () => server.close())
}

/** The app's logger when it is pino's (Fastify's `logger` option); an app without one gets stompd's own, at `logLevel`. */
function pinoOf(fastify: FastifyInstance): Logger | undefined {
  const log = fastify.log as unknown as Partial<Logger>
  return typeof log.isLevelEnabled === 'function' ? log as Logger : undefined
}

export const stompd = fp(plugin, { name: 'stompd', fastify: '5.x' })

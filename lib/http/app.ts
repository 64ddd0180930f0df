// The HTTP side: liveness, readiness and Prometheus metrics. The WebSocket transport is
// registered on the same Fastify instance by the server.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Registry } from 'prom-client'

export interface HttpOptions {
  /** Put before every path (`/stompd` → `/stompd/healthz`); none when stompd owns the server. */
  routePrefix?: string
  metrics: Registry
  /** Whether the store and backplane answer; a reason when they do not. */
  readiness(): Promise<{ ready: boolean; detail?: string }>
}

async function httpRoutes(fastify: FastifyInstance, options: HttpOptions): Promise<void> {
  const prefix = options.routePrefix ?? ''
  fastify.get(`${prefix}/healthz`, async () => ({ status: 'ok' }))
  fastify.get(`${prefix}/readyz`, async (_request, reply) => {
    const { ready, detail } = await options.readiness()
    reply.code(ready ? 200 : 503)
    return ready ? { status: 'ready' } : { status: 'unavailable', detail }
  })
  fastify.get(`${prefix}/metrics`, async (_request, reply) => {
    reply.header('content-type', options.metrics.contentType)
    return options.metrics.metrics()
  })
}

export const httpApp = fp(httpRoutes, { name: 'stompd-http', fastify: '5.x' })

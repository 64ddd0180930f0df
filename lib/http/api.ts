// The management API under /api: what a person running the broker looks at and acts with.
// JSON in and out, each route with a schema (Fastify answers bad input with 400 and what was
// wrong); an unknown queue or connection is 404. With authentication configured, every call
// needs credentials (HTTP Basic for the users file, Bearer for a JWT) of a user in the `admin`
// role: 401 without them, 403 for anyone else. Without authentication it is open, as the broker is.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Broker } from '../broker/broker.js'
import { parseDestination } from '../broker/destination.js'
import { Message } from '../broker/message.js'
import type { AuthGate } from '../auth/gate.js'
import { StompError } from '../errors.js'
import type { Session, SessionStats } from '../session/session.js'
import type { Store } from '../store/store.js'
import { VERSION } from '../version.js'
import { dashboardPage } from './dashboard-page.js'

export interface ApiOptions {
  routePrefix?: string
  /** Where the dashboard page is served (`/` and `/dashboard`; a plugin's under its prefix). */
  dashboardPaths: readonly string[]
  broker: Broker
  sessions: ReadonlySet<Session>
  stats: SessionStats
  store: Store
  /** Null while the cluster's engine answers (or there is none); else why not. */
  clusterProblem(): string | null
  clustered: boolean
  /** The credentials check, null without authentication (read at each call: it is set at listen). */
  auth(): AuthGate | null
}

/** Totals sampled once a second, so a rate is the last second's, read without work at call time. */
class Rates {
  private previous = new Map<string, { at: number, value: number }>()
  private current = new Map<string, { at: number, value: number }>()

  sample(totals: Map<string, number>): void {
    this.previous = this.current
    const at = Date.now()
    this.current = new Map([...totals].map(([key, value]) => [key, { at, value }]))
  }

  /** Per second over the last sample interval; 0 before two samples. */
  rate(key: string): number {
    const a = this.previous.get(key)
    const b = this.current.get(key)
    if (a === undefined || b === undefined || b.at === a.at) return 0
    return Math.round(((b.value - a.value) * 1000) / (b.at - a.at))
  }
}

const DLQ_PREFIX = 'DLQ.'

const destinationSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' }, type: { type: 'string', enum: ['queue', 'topic', 'stream', 'durable'] },
    depth: { type: 'integer' }, unacked: { type: 'integer' }, consumers: { type: 'integer' },
    publishRate: { type: 'number' }, deliverRate: { type: 'number' }, dlqDepth: { type: 'integer' },
  },
} as const

const nameParams = { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 255 } } } as const
const countReply = (field: string) => ({ 200: { type: 'object', properties: { [field]: { type: 'integer' } } } })

async function api(fastify: FastifyInstance, options: ApiOptions): Promise<void> {
  const prefix = `${options.routePrefix ?? ''}/api`
  const { broker, sessions, stats, store } = options
  const started = Date.now()
  const rates = new Rates()
  const sampler = setInterval(() => {
    const totals = new Map<string, number>([['published', broker.stats.published], ['delivered', stats.delivered]])
    for (const [name, queue] of broker.queueMap) {
      totals.set(`q:${name}:in`, queue.enqueuedTotal)
      totals.set(`q:${name}:out`, queue.deliveredTotal)
    }
    for (const [pattern, { offered }] of broker.topicSubscriptions()) totals.set(`t:${pattern}:out`, offered)
    for (const [name, stream] of broker.streamMap) {
      totals.set(`s:${name}:in`, stream.nextOffset)
      totals.set(`s:${name}:out`, stream.delivered)
    }
    rates.sample(totals)
  }, 1000)
  sampler.unref()
  fastify.addHook('onClose', async () => clearInterval(sampler))

  const admin = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (!request.url.startsWith(prefix + '/') && request.url !== prefix) return
    const gate = options.auth()
    if (gate === null) return
    const credentials = credentialsOf(request)
    if (credentials === null) {
      reply.code(401).header('www-authenticate', 'Basic realm="stompd", Bearer').send({ error: 'credentials needed: HTTP Basic (users file) or Bearer (JWT)' })
      return reply
    }
    const principal = await gate.check({ ...credentials, certificateName: '', remote: `${request.socket.remoteAddress}:${request.socket.remotePort}`, transport: 'tcp' })
    if (principal === null) {
      reply.code(401).header('www-authenticate', 'Basic realm="stompd", Bearer').send({ error: 'authentication failed' })
      return reply
    }
    if (!principal.roles.includes('admin')) {
      reply.code(403).send({ error: `${principal.user} is not in the admin role` })
      return reply
    }
  }
  fastify.addHook('onRequest', admin)

  const describeQueue = (name: string) => {
    const queue = broker.queueMap.get(name)!
    return {
      name: `/queue/${name}`, type: 'queue' as const, depth: queue.depth, unacked: queue.inFlight, consumers: queue.consumerCount,
      publishRate: rates.rate(`q:${name}:in`), deliverRate: rates.rate(`q:${name}:out`),
      dlqDepth: name.startsWith(DLQ_PREFIX) ? 0 : broker.queueMap.get(DLQ_PREFIX + name)?.depth ?? 0,
    }
  }
  const destinations = () => [
    ...[...broker.queueMap.keys()].sort().map(describeQueue),
    // A topic pattern's rate is what its subscriptions took; what was published to it is the topics' (many names, one pattern).
    ...[...broker.topicSubscriptions()].sort(([a], [b]) => a.localeCompare(b)).map(([pattern, { subscriptions }]) => ({
      name: `/topic/${pattern}`, type: 'topic' as const, consumers: subscriptions, deliverRate: rates.rate(`t:${pattern}:out`),
    })),
    ...[...broker.streamMap].sort(([a], [b]) => a.localeCompare(b)).map(([name, stream]) => ({
      name: `/stream/${name}`, type: 'stream' as const, depth: stream.length, publishRate: rates.rate(`s:${name}:in`), deliverRate: rates.rate(`s:${name}:out`),
    })),
    ...[...broker.durableMap.values()].map((durable) => ({
      name: durable.key.replace('\u0000', '/'), type: 'durable' as const, depth: durable.queue.depth, unacked: durable.queue.inFlight, consumers: durable.queue.consumerCount,
    })),
  ]

  const overview = () => {
    const memory = process.memoryUsage()
    const clusterProblem = options.clusterProblem()
    return {
      version: VERSION,
      uptimeSeconds: Math.round((Date.now() - started) / 1000),
      connections: sessions.size,
      messages: { published: broker.stats.published, delivered: stats.delivered, publishRate: rates.rate('published'), deliverRate: rates.rate('delivered') },
      memory: { rss: memory.rss, heapUsed: memory.heapUsed },
      store: { kind: store.kind, ok: store.problem === null, problem: store.problem },
      cluster: { enabled: options.clustered, ok: clusterProblem === null, problem: clusterProblem },
    }
  }
  fastify.get(`${prefix}/overview`, async () => overview())

  // The page holds no data (what it shows comes from the routes above, behind the admin check).
  const page = dashboardPage(prefix)
  for (const path of options.dashboardPaths) {
    fastify.get(path, async (_request, reply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page))
  }

  // The dashboard's live feed: everything it shows, once a second, while it is open.
  const watchers = new Set<FastifyReply>()
  let feed: NodeJS.Timeout | null = null
  const push = (): void => {
    const data = `data: ${JSON.stringify({ overview: overview(), destinations: destinations(), connections: [...sessions].map((s) => s.describe()) })}\n\n`
    for (const reply of watchers) reply.raw.write(data)
  }
  fastify.get(`${prefix}/events`, (request, reply) => {
    reply.hijack()
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
    watchers.add(reply)
    if (feed === null) feed = setInterval(push, 1000)
    push()
    request.raw.on('close', () => {
      watchers.delete(reply)
      if (watchers.size === 0 && feed !== null) {
        clearInterval(feed)
        feed = null
      }
    })
  })
  fastify.addHook('preClose', async () => {
    if (feed !== null) clearInterval(feed)
    for (const reply of watchers) reply.raw.end()
    watchers.clear()
  })

  fastify.get(`${prefix}/destinations`, { schema: { response: { 200: { type: 'array', items: destinationSchema } } } }, async () => destinations())

  fastify.get<{ Params: { name: string } }>(`${prefix}/destinations/:name`, { schema: { params: nameParams, response: { 200: destinationSchema } } }, async (request, reply) => {
    // The full name (`/queue/jobs`), URL-encoded; `queue/jobs` (without the first slash) too.
    const wanted = request.params.name.startsWith('/') ? request.params.name : `/${request.params.name}`
    const found = destinations().find((d) => d.name === wanted)
    if (found === undefined) return reply.code(404).send({ error: `no destination ${wanted}` })
    return found
  })

  fastify.delete<{ Params: { name: string } }>(`${prefix}/queues/:name/messages`, { schema: { params: nameParams, response: countReply('purged') } }, async (request, reply) => {
    const purged = broker.purgeQueue(request.params.name)
    if (purged === null) return reply.code(404).send({ error: `no queue /queue/${request.params.name}` })
    return { purged }
  })

  fastify.post<{ Params: { name: string } }>(`${prefix}/queues/:name/redrive`, { schema: { params: nameParams, response: countReply('moved') } }, async (request, reply) => {
    const moved = broker.redrive(request.params.name)
    if (moved === null) return reply.code(404).send({ error: `no queue /queue/${request.params.name}` })
    return { moved }
  })

  fastify.delete<{ Params: { name: string } }>(`${prefix}/queues/:name`, { schema: { params: nameParams } }, async (request, reply) => {
    const outcome = broker.deleteQueue(request.params.name)
    if (outcome === 'gone') return reply.code(404).send({ error: `no queue /queue/${request.params.name}` })
    if (outcome === 'busy') return reply.code(409).send({ error: `/queue/${request.params.name} has consumers; they must go first` })
    return reply.code(204).send()
  })

  fastify.get(`${prefix}/connections`, async () => [...sessions].map((session) => session.describe()))

  fastify.delete<{ Params: { id: string } }>(`${prefix}/connections/:id`, {
    schema: { params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1 } } } },
  }, async (request, reply) => {
    const session = [...sessions].find((s) => s.id === request.params.id)
    if (session === undefined) return reply.code(404).send({ error: `no connection ${request.params.id}` })
    session.closeByAdministrator()
    return reply.code(204).send()
  })

  // The body is checked here rather than by a schema: Fastify's default validator would drop an
  // unknown field and turn a number into a string, where an operator should hear what was wrong.
  fastify.post(`${prefix}/publish`, async (request, reply) => {
    const input = publishInput(request.body)
    if (typeof input === 'string') return reply.code(400).send({ error: input })
    const { destination: name, headers, body } = input
    const destination = parseDestination(name, 'send')
    if (destination instanceof StompError) return reply.code(400).send({ error: `${destination.message}: ${destination.detail.trim()}` })
    if (destination.kind === 'temp-queue' || destination.kind === 'reply-queue' || (destination.kind === 'user' && destination.user === undefined)) {
      return reply.code(400).send({ error: `${name}: the API publishes to topics, queues, streams and /user/<user>/... destinations` })
    }
    const id = broker.ids.next()
    const pairs: Array<[string, string]> = [['destination', name], ...Object.entries(headers).filter(([key]) => key !== 'destination')]
    const message = new Message({ id, destination: name, headers: pairs, body: Buffer.from(body), persistent: headers.persistent === 'true', expires: 0,
      retain: headers.retain === 'true', dedupId: headers['dedup-id'] })
    const result = broker.publish(destination, message, { id: 'management-api' })
    if (result instanceof StompError) return reply.code(409).send({ error: `${result.message}: ${result.detail.trim()}` })
    await result
    return { id }
  })
}

/** A publish request's body, or what is wrong with it. */
function publishInput(raw: unknown): { destination: string, headers: Record<string, string>, body: string } | string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'the body must be a JSON object: { "destination": "/queue/x", "headers": {}, "body": "" }'
  const input = raw as Record<string, unknown>
  const unknown = Object.keys(input).filter((key) => key !== 'destination' && key !== 'headers' && key !== 'body')
  if (unknown.length > 0) return `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}: only destination, headers and body`
  if (typeof input.destination !== 'string' || input.destination === '') return 'destination is required: a string such as "/queue/x"'
  const headers = input.headers ?? {}
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) return 'headers must be an object of strings'
  for (const [name, value] of Object.entries(headers)) if (typeof value !== 'string') return `headers.${name} must be a string`
  if (input.body !== undefined && typeof input.body !== 'string') return 'body must be a string'
  return { destination: input.destination, headers: headers as Record<string, string>, body: (input.body as string | undefined) ?? '' }
}

/** HTTP Basic (login and passcode) or Bearer (a token); null without an Authorization header. */
function credentialsOf(request: FastifyRequest): { login: string, passcode: string, bearer: string } | null {
  const header = request.headers.authorization
  if (header === undefined) return null
  const [scheme, value = ''] = header.split(' ', 2)
  if (scheme?.toLowerCase() === 'bearer') return { login: '', passcode: value, bearer: value }
  if (scheme?.toLowerCase() !== 'basic') return null
  const decoded = Buffer.from(value, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  return colon < 0 ? null : { login: decoded.slice(0, colon), passcode: decoded.slice(colon + 1), bearer: '' }
}

export const managementApi = fp(api, { name: 'stompd-api', fastify: '5.x' })

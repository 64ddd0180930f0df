// Prometheus metrics, read from the broker's and sessions' counters when scraped, so the
// hot path only bumps plain numbers.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import type { Broker } from '../broker/broker.js'
import { chunkPool } from '../session/chunk-pool.js'
import type { SessionStats } from '../session/session.js'

export interface MetricsSources {
  broker: Broker
  stats: SessionStats
  openSessions(): number
}

/** A counter whose value is read, at scrape time, from a number we keep elsewhere. */
function mirroredCounter(registry: Registry, name: string, help: string, read: () => number): void {
  let last = 0
  new Counter({
    name, help, registers: [registry],
    collect() {
      const now = read()
      if (now > last) this.inc(now - last)
      last = now
    },
  })
}

export function createMetrics(sources: MetricsSources): Registry {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'stompd_process_' })
  const { broker, stats } = sources
  new Gauge({
    name: 'stompd_connections', help: 'Open client connections', registers: [registry],
    collect() { this.set(sources.openSessions()) },
  })
  new Gauge({
    name: 'stompd_queues', help: 'Queues that exist', registers: [registry],
    collect() { this.set(broker.queueCount) },
  })
  new Gauge({
    name: 'stompd_topic_subscriptions', help: 'Topic subscriptions', registers: [registry],
    collect() { this.set(broker.topicSubscriptionCount) },
  })
  new Gauge({
    name: 'stompd_outbox_slab_bytes', help: 'Memory held for outgoing bytes (slabs of the outbox chunk pool; resident only where written)', registers: [registry],
    collect() { this.set(chunkPool.stats().slabBytes) },
  })
  new Gauge({
    name: 'stompd_outbox_rented_bytes', help: 'Outbox chunks in use by connections', registers: [registry],
    collect() { this.set(chunkPool.stats().rentedBytes) },
  })
  const counters: Array<[string, string, () => number]> = [
    ['stompd_connections_total', 'Connections accepted', () => stats.connections],
    ['stompd_messages_published_total', 'Messages published (SEND)', () => broker.stats.published],
    ['stompd_messages_delivered_total', 'MESSAGE frames delivered to subscribers', () => stats.delivered],
    ['stompd_messages_dropped_total', 'Messages that matched no subscriber, or expired', () => broker.stats.dropped],
    ['stompd_messages_dead_lettered_total', 'Messages moved to a dead-letter queue', () => broker.stats.deadLettered],
    ['stompd_slow_consumers_total', 'Subscribers dropped for falling too far behind', () => stats.slowConsumers],
  ]
  for (const [name, help, read] of counters) mirroredCounter(registry, name, help, read)
  mirroredLabelledCounter(registry, 'stompd_connections_closed_total', 'Connections closed, by reason', () => stats.closed)
  mirroredLabelledCounter(registry, 'stompd_refused_total',
    'What a limit or a check refused, by reason: an ERROR frame\'s code, or an HTTP refusal before the upgrade (origin, too-many-connections)', () => stats.refused)
  return registry
}

/** A counter with a `reason` label whose values are read, at scrape time, from counts we keep elsewhere. */
function mirroredLabelledCounter(registry: Registry, name: string, help: string, read: () => Partial<Record<string, number>>): void {
  const seen: Record<string, number> = {}
  new Counter({
    name, help, labelNames: ['reason'], registers: [registry],
    collect() {
      for (const [reason, count] of Object.entries(read())) {
        const delta = (count ?? 0) - (seen[reason] ?? 0)
        if (delta > 0) this.inc({ reason }, delta)
        seen[reason] = count ?? 0
      }
    },
  })
}

// The HTTP side an operator uses: liveness, readiness and Prometheus metrics.
import t from 'tap'
import { RawClient } from '../helpers/raw.js'
import { startServer } from '../helpers/server.js'

/** The value of an unlabelled sample in Prometheus text, or undefined. */
function sample(metrics: string, name: string): number | undefined {
  const line = metrics.split('\n').find((l) => l.startsWith(name + ' '))
  return line === undefined ? undefined : Number(line.slice(name.length + 1))
}

t.test('GET /healthz answers 200 {status: "ok"}', async (t) => {
  const { addresses } = await startServer(t)
  const response = await fetch(`${addresses.http}/healthz`)
  t.equal(response.status, 200)
  t.match(response.headers.get('content-type'), /application\/json/)
  t.same(await response.json(), { status: 'ok' })
})

t.test('GET /readyz answers 200 while the broker is serving', async (t) => {
  const { addresses } = await startServer(t)
  const response = await fetch(`${addresses.http}/readyz`)
  t.equal(response.status, 200)
  t.same(await response.json(), { status: 'ready' })
})

t.test('GET /metrics is Prometheus text with connection and publish counts', async (t) => {
  const { addresses } = await startServer(t)
  const scrape = async (): Promise<string> => {
    const response = await fetch(`${addresses.http}/metrics`)
    t.equal(response.status, 200)
    t.match(response.headers.get('content-type'), /^text\/plain/)
    return response.text()
  }
  const before = await scrape()
  t.match(before, /# TYPE stompd_connections gauge/)
  t.match(before, /# TYPE stompd_messages_published_total counter/)
  t.equal(sample(before, 'stompd_connections'), 0, 'no connections yet')
  t.equal(sample(before, 'stompd_messages_published_total'), 0, 'nothing published yet')

  const tcp = await RawClient.tcp(t, addresses.tcp!)
  await tcp.connect()
  const ws = await RawClient.ws(t, addresses.ws)
  await ws.connect()
  tcp.frame('SEND', [['destination', '/queue/metered'], ['receipt', 'one']], 'one')
  await tcp.next()
  ws.frame('SEND', [['destination', '/topic/metered'], ['receipt', 'two']], 'two')
  await ws.next()

  const after = await scrape()
  t.equal(sample(after, 'stompd_connections'), 2, 'both open connections are counted')
  t.ok(sample(after, 'stompd_outbox_slab_bytes')! > 0, 'the receipts were written from pooled chunks')
  t.ok(sample(after, 'stompd_outbox_rented_bytes')! >= 0)
  t.equal(sample(after, 'stompd_messages_published_total'), 2, 'each publish is counted')

  tcp.destroy()
  await tcp.closed
  ws.destroy()
  await ws.closed
  // The server notices the closes on its own schedule; wait for the gauge rather than sleeping a fixed time.
  const deadline = Date.now() + 5000
  let connections = sample(await scrape(), 'stompd_connections')
  while (connections !== 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    connections = sample(await scrape(), 'stompd_connections')
  }
  t.equal(connections, 0, 'closed connections leave the gauge')
  t.equal(sample(await scrape(), 'stompd_messages_published_total'), 2, 'the counter keeps its value')
})

t.test('an unknown HTTP path is a 404, not a crash', async (t) => {
  const { addresses } = await startServer(t)
  const response = await fetch(`${addresses.http}/no-such-page`)
  t.equal(response.status, 404)
  t.equal((await fetch(`${addresses.http}/healthz`)).status, 200)
})

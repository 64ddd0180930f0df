// --otel: a span for each publish, a child of the trace the sender's `traceparent` continues, and
// one for each delivery, a child of its publish span, exported over OTLP/HTTP to the collector at
// OTEL_EXPORTER_OTLP_ENDPOINT (here a small HTTP server that keeps what it is sent). Without
// --otel nothing is exported.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { eventually } from '../helpers/expect.js'
import { startServer } from '../helpers/server.js'
import { messages, open, request, subscribe } from '../helpers/stomp.js'

interface OtlpSpan { traceId: string, spanId: string, parentSpanId?: string, name: string, kind: number, attributes: Array<{ key: string, value: { stringValue?: string } }> }
interface OtlpExport { resourceSpans: Array<{ resource: { attributes: Array<{ key: string, value: { stringValue?: string } }> }, scopeSpans: Array<{ spans: OtlpSpan[] }> }> }

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736'
const SENDER_SPAN = '00f067aa0ba902b7'
const SPAN_KIND_PRODUCER = 4
const SPAN_KIND_CONSUMER = 5

async function collector(t: Parameters<typeof startServer>[0]): Promise<{ url: string, exports: OtlpExport[], paths: string[] }> {
  const exports: OtlpExport[] = []
  const paths: string[] = []
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => { body += chunk.toString() })
    req.on('end', () => {
      paths.push(`${req.method} ${req.url} ${req.headers['content-type']}`)
      exports.push(JSON.parse(body) as OtlpExport)
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, exports, paths }
}

function withEndpoint(t: Parameters<typeof startServer>[0], url: string): void {
  const before = process.env.OTEL_EXPORTER_OTLP_ENDPOINT
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = url
  t.teardown(() => {
    if (before === undefined) delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT
    else process.env.OTEL_EXPORTER_OTLP_ENDPOINT = before
  })
}

const spansOf = (exports: OtlpExport[]): OtlpSpan[] => exports.flatMap((e) => e.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)))

t.test('with --otel a publish span continues the sender\'s trace and each delivery span is its child', async (t) => {
  const otlp = await collector(t)
  withEndpoint(t, otlp.url)
  const { server, addresses } = await startServer(t, { otel: true })
  const consumer = await open(t, addresses, 'ws')
  await subscribe(consumer, 's', '/queue/traced')
  const producer = await open(t, addresses, 'tcp')
  await request(producer, 'SEND', [['destination', '/queue/traced'], ['traceparent', `00-${TRACE_ID}-${SENDER_SPAN}-01`]], 'traced')
  await request(producer, 'SEND', [['destination', '/topic/untraced']], 'a new trace')
  await eventually(() => messages(consumer).length >= 1, 5000, 'the delivery')
  await server.close() // exports what is batched
  await eventually(() => spansOf(otlp.exports).length >= 3, 5000, 'three spans exported')
  t.match(otlp.paths[0], /^POST \/v1\/traces application\/json/)
  const spans = spansOf(otlp.exports)
  const publish = spans.find((s) => s.name === 'publish /queue/traced')!
  const deliver = spans.find((s) => s.name === 'deliver /queue/traced')!
  t.ok(publish && deliver, 'a publish and a deliver span')
  t.equal(publish.traceId, TRACE_ID, 'the publish span is in the sender\'s trace')
  t.equal(publish.parentSpanId, SENDER_SPAN, '... a child of the sender\'s span')
  t.equal(publish.kind, SPAN_KIND_PRODUCER)
  t.equal(deliver.traceId, TRACE_ID)
  t.equal(deliver.parentSpanId, publish.spanId, 'the delivery span is a child of the publish span')
  t.equal(deliver.kind, SPAN_KIND_CONSUMER)
  t.ok(deliver.attributes.some((a) => a.key === 'messaging.destination.name' && a.value.stringValue === '/queue/traced'))
  const fresh = spans.find((s) => s.name === 'publish /topic/untraced')!
  t.ok(fresh !== undefined && (fresh.parentSpanId === undefined || fresh.parentSpanId === ''), 'a SEND without traceparent starts a trace of its own')
  const service = otlp.exports[0]!.resourceSpans[0]!.resource.attributes.find((a) => a.key === 'service.name')
  t.equal(service?.value.stringValue, 'stompd')
})

t.test('without --otel nothing is exported', async (t) => {
  const otlp = await collector(t)
  withEndpoint(t, otlp.url)
  const { server, addresses } = await startServer(t)
  const producer = await open(t, addresses, 'tcp')
  await request(producer, 'SEND', [['destination', '/topic/x'], ['traceparent', `00-${TRACE_ID}-${SENDER_SPAN}-01`]], 'x')
  await server.close()
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.same(otlp.exports, [])
})

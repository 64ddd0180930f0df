// Tracing with OpenTelemetry (--otel): spans go to an OTLP/HTTP collector
// (OTEL_EXPORTER_OTLP_ENDPOINT, or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT; the SDK reads them, and
// OTEL_SERVICE_NAME). A publish span is a child of the trace the sender's `traceparent` (and
// `tracestate`) continue; each delivery's span is a child of its publish span when this process
// made it, else of the sender's trace again. The headers themselves travel on unchanged.
import { propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type TextMapGetter } from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base'
import type { Message } from '../broker/message.js'
import { VERSION } from '../version.js'
import type { Tracing } from '../broker/tracing.js'

const carrier: TextMapGetter<Message> = {
  keys: (message) => message.headers.map(([name]) => name),
  get: (message, key) => message.property(key),
}

export function startOtel(): Tracing {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': process.env.OTEL_SERVICE_NAME ?? 'stompd', 'service.version': VERSION }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  })
  const tracer = provider.getTracer('stompd', VERSION)
  const propagator = new W3CTraceContextPropagator()
  propagation.setGlobalPropagator(propagator)
  /** The publish span's context of messages routed here, for their deliveries' spans. */
  const published = new WeakMap<Message, Context>()
  const senderContext = (message: Message): Context => propagator.extract(ROOT_CONTEXT, message, carrier)

  return {
    publish(destination, message) {
      const parent = senderContext(message)
      const span = tracer.startSpan(`publish ${destination}`, {
        kind: SpanKind.PRODUCER,
        attributes: { 'messaging.system': 'stomp', 'messaging.operation.type': 'send', 'messaging.destination.name': destination, 'messaging.message.id': message.id },
      }, parent)
      published.set(message, trace.setSpan(parent, span))
      return (error) => {
        if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error.message })
        span.end()
      }
    },
    deliver(destination, subscription, session, message) {
      const parent = published.get(message) ?? senderContext(message)
      tracer.startSpan(`deliver ${destination}`, {
        kind: SpanKind.CONSUMER,
        attributes: {
          'messaging.system': 'stomp', 'messaging.operation.type': 'process', 'messaging.destination.name': destination,
          'messaging.message.id': message.id, 'messaging.destination.subscription.name': subscription, 'stompd.session': session,
        },
      }, parent).end()
    },
    async shutdown() {
      await provider.shutdown()
    },
  }
}


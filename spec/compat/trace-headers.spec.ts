// W3C trace context travels with a message: `traceparent` and `tracestate` on a SEND come out
// unchanged on every MESSAGE it becomes, whether the message went through a topic, a queue or a
// durable subscription, so a consumer's span can continue the producer's trace.
import t from 'tap'
import { eventually, TRANSPORTS } from '../helpers/expect.js'
import { RawClient } from '../helpers/raw.js'
import { startServer } from '../helpers/server.js'
import { header, messages, open, request, subscribe } from '../helpers/stomp.js'

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
const TRACESTATE = 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE'

for (const transport of TRANSPORTS) {
  t.test(`traceparent and tracestate reach every MESSAGE unchanged: topic, queue, durable subscription (${transport})`, async (t) => {
    const { addresses } = await startServer(t)
    const login: Array<[string, string]> = [['accept-version', '1.2'], ['host', 'localhost'], ['login', 'tracer']]
    const topicSubscriber = await open(t, addresses, transport)
    const queueConsumer = await open(t, addresses, transport)
    const durable = transport === 'tcp' ? await RawClient.tcp(t, addresses.tcp!) : await RawClient.ws(t, addresses.ws)
    await durable.connect(login)
    await subscribe(topicSubscriber, 's', '/topic/traced')
    await subscribe(queueConsumer, 's', '/queue/traced', [['ack', 'client-individual']])
    await request(durable, 'SUBSCRIBE', [['id', 'd'], ['destination', '/topic/traced'], ['durable', 'true']])
    await request(durable, 'DISCONNECT')
    const publisher = await open(t, addresses, transport)
    const trace: Array<[string, string]> = [['traceparent', TRACEPARENT], ['tracestate', TRACESTATE]]
    await request(publisher, 'SEND', [['destination', '/topic/traced'], ...trace], 'topic')
    await request(publisher, 'SEND', [['destination', '/queue/traced'], ...trace], 'queue')
    const back = transport === 'tcp' ? await RawClient.tcp(t, addresses.tcp!) : await RawClient.ws(t, addresses.ws)
    await back.connect(login)
    await request(back, 'SUBSCRIBE', [['id', 'd'], ['destination', '/topic/traced'], ['durable', 'true']])
    await eventually(() => messages(topicSubscriber).length >= 1 && messages(queueConsumer).length >= 1 && messages(back).length >= 1, 5000, 'all three')
    for (const [what, frame] of [['topic', messages(topicSubscriber)[0]!], ['queue', messages(queueConsumer)[0]!], ['durable', messages(back)[0]!]] as const) {
      t.equal(header(frame, 'traceparent'), TRACEPARENT, `${what}: traceparent`)
      t.equal(header(frame, 'tracestate'), TRACESTATE, `${what}: tracestate`)
    }
  })
}

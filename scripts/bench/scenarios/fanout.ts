// Topic fan-out: one publisher, N subscribers on one topic, 256-byte bodies; deliveries per
// second summed over subscribers. Over WebSocket to 1, 10, 100 and 1,000 subscribers, and over
// TCP to 10. Targets (issue 7): ≥ 0.9× the raw-ws ceiling at 10+ subscribers, ≥ 0.8× at 1;
// over TCP ≥ 5× RabbitMQ's STOMP.
//
// Over WebSocket stompd is also measured uncapped (`--ws-max-message-bytes` 1 GiB: a turn's
// frames for a connection go as one message, as before the cap existed), taking turns with the
// others: the default 8 KiB cap must keep ≥ 0.85× of that at 10, 100 and 1,000 subscribers
// (shown at 1 too, without a target). STOMPD_BENCH_WS_MAX_MESSAGE_BYTES=<bytes> runs the `stompd`
// contender with another cap, to compare by hand.
//
//   npm run bench -- fanout [--quick] [--json]
import type { BenchOptions } from '../harness.js'
import { runFigures } from '../load/bench.js'
import type { BrokerKind } from '../load/brokers.js'
import { ALL_BROKERS, flowShape, type FlowFigure, type ScenarioOptions, type Target } from '../load/figure.js'

/** Over WebSocket, stompd as it ships and stompd without the message cap, beside the others. */
const WS_BROKERS: BrokerKind[] = ['stompd', 'stompd-uncapped', 'rabbitmq', 'ceiling']

/** The cap may cost at most 15 % of what coalescing a whole turn into one message gave. */
const CAP_COST: Target = { versus: 'stompd-uncapped', op: '>=', value: 0.85 }

/** Subscriber threads: enough that one thread does not limit the figure (this machine has 2 cores). */
function threadsFor(subscribers: number): number {
  return subscribers >= 1000 ? 3 : subscribers >= 10 ? 2 : 1
}

export function fanoutWs(subscribers: number, _options: ScenarioOptions): FlowFigure {
  return {
    kind: 'flow',
    id: `fanout-ws-${subscribers}`,
    title: `topic fan-out ws ×${subscribers.toLocaleString('en-US')}`,
    shape: flowShape(`fanout-ws-${subscribers}`, { subscribers, subscriberThreads: threadsFor(subscribers) }),
    metric: 'delivered',
    store: 'memory',
    brokers: WS_BROKERS,
    targets: [{ versus: 'ceiling', op: '>=', value: subscribers === 1 ? 0.8 : 0.9 }, ...(subscribers >= 10 ? [CAP_COST] : [])],
    note: 'fan-out: 1 publisher, 256 B bodies, RECEIPT on every 10th SEND, window 1,000 messages, cap 300 undelivered per subscriber; stompd uncapped: --ws-max-message-bytes 1 GiB',
  }
}

export function fanoutTcp(subscribers: number, _options: ScenarioOptions): FlowFigure {
  return {
    ...fanoutWs(subscribers, _options),
    id: `fanout-tcp-${subscribers}`,
    title: `topic fan-out tcp ×${subscribers}`,
    shape: flowShape(`fanout-tcp-${subscribers}`, { transport: 'tcp', subscribers, subscriberThreads: threadsFor(subscribers) }),
    brokers: ALL_BROKERS, // TCP has no messages to cap
    targets: [{ versus: 'rabbitmq', op: '>=', value: 5 }],
    note: 'the TCP ceiling writes each chunk the publisher sent to every subscriber (one write per chunk, not per message)',
  }
}

export function figures(options: ScenarioOptions): FlowFigure[] {
  return [
    fanoutWs(1, options),
    fanoutWs(10, options),
    fanoutWs(100, options),
    fanoutWs(1000, options),
    fanoutTcp(10, options),
  ]
}

export function run(options: BenchOptions) {
  return runFigures('fanout', figures(options), options)
}

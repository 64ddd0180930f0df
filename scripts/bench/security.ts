// What security costs: stompd with authentication and authorization on ("stompd secured":
// --jwt-secret with an HS256 secret, --acl with 50 rules, see load/secured.ts) against plain
// stompd, the two taking turns run by run in the same suite as every other figure.
//
//   topic fan-out ws ×100 and queue 4×4 ack:auto, as scenarios/fanout.ts and queue.ts measure
//     them: every load client CONNECTs with its own JWT (its own user, role `bench`), and every
//     SEND and SUBSCRIBE is checked against an ACL whose first 49 rules are about other users
//     and whose last one grants the bench's destinations. Target: secured ≥ 0.95× plain.
//   connect storm: 2,000 WebSocket connections (1,000 with --quick), 50 at a time from two client
//     processes, each CONNECT → CONNECTED → DISCONNECT → closed; with stompd secured each
//     CONNECT carries its own HS256 token, verified by stompd (the ACL costs nothing here: it is
//     asked on SEND and SUBSCRIBE). Connections/s. Target: secured ≥ 0.8× plain. On a 2-core
//     machine the load generator's side of a WebSocket handshake costs more CPU than stompd's,
//     and the machine is the limit: the ratio is of connections the two together can make.
//
//   npm run bench -- security [--quick] [--json]
import type { BenchOptions } from './harness.js'
import { runFigures } from './load/bench.js'
import type { BrokerKind } from './load/brokers.js'
import { flowShape, type FlowFigure, type ScenarioOptions, type StormFigure, type Target } from './load/figure.js'
import { OTHER_RULES } from './load/secured.js'

/** Plain stompd and stompd secured, side by side; the figures are about the secured one. */
const BROKERS: BrokerKind[] = ['stompd', 'stompd-secured']
const SUBJECT: BrokerKind = 'stompd-secured'

/** Authentication and the ACL may cost at most 5 % of the message throughput ... */
const FLOW_COST: Target = { versus: 'stompd', op: '>=', value: 0.95 }
/** ... and at most 20 % of the connect rate (an HMAC and a JSON parse per CONNECT). */
const CONNECT_COST: Target = { versus: 'stompd', op: '>=', value: 0.8 }

const SECURED = `stompd secured: --jwt-secret (HS256) and --acl of ${OTHER_RULES + 1} rules (${OTHER_RULES} for other users first, the bench's grant last), each client its own JWT as passcode`

export function securedFanout(subscribers: number, _options: ScenarioOptions): FlowFigure {
  const id = `secured-fanout-ws-${subscribers}`
  return {
    kind: 'flow',
    id,
    title: `secured: topic fan-out ws ×${subscribers.toLocaleString('en-US')}`,
    // The shape of fanout.ts's figure (two subscriber threads from 10 subscribers up).
    shape: flowShape(id, { subscribers, subscriberThreads: subscribers >= 1000 ? 3 : subscribers >= 10 ? 2 : 1 }),
    metric: 'delivered',
    store: 'memory',
    brokers: BROKERS,
    subject: SUBJECT,
    targets: [FLOW_COST],
    note: `as topic fan-out ws ×${subscribers}; ${SECURED}`,
  }
}

export function securedQueue(_options: ScenarioOptions): FlowFigure {
  const id = 'secured-queue-4x4-auto'
  return {
    kind: 'flow',
    id,
    title: 'secured: queue 4×4 ack:auto',
    // The shape of queue.ts's figure.
    shape: flowShape(id, { mode: 'queue', ack: 'auto', publishers: 4, subscribers: 4, subscriberThreads: 2 }),
    metric: 'delivered',
    store: 'memory',
    brokers: BROKERS,
    subject: SUBJECT,
    targets: [FLOW_COST],
    note: `as queue 4×4 ack:auto; ${SECURED}`,
  }
}

export function connectStorm(options: ScenarioOptions): StormFigure {
  const connects = options.quick ? 1000 : 2000
  return {
    kind: 'storm',
    id: `connect-storm-${connects}`,
    title: `connect storm ws ×${connects.toLocaleString('en-US')}`,
    shape: { connects, concurrency: 50, processes: 2, warmup: connects / 10 },
    brokers: BROKERS,
    subject: SUBJECT,
    targets: [CONNECT_COST],
    note: `connect storm: ${connects.toLocaleString('en-US')} WebSocket connections, 50 at a time from 2 client processes, each CONNECT → CONNECTED → DISCONNECT → closed, after ${connects / 10} not counted; connections/s = CONNECTED / wall time to the last close; stompd secured: a distinct HS256 JWT per CONNECT`,
  }
}

export function figures(options: ScenarioOptions): Array<FlowFigure | StormFigure> {
  return [securedFanout(100, options), securedQueue(options), connectStorm(options)]
}

export function run(options: BenchOptions) {
  return runFigures('security', figures(options), options)
}

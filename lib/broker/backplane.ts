// How topic messages cross nodes: each node publishes what its clients send to a topic, and
// hears what other nodes publish to topics it has subscribers for. One small interface, like
// Store: the broker never knows whether Redis (lib/cluster/redis-backplane.ts) or another node in
// the same process (lib/cluster/local-backplane.ts) is behind it.
import type { Message } from './message.js'

/**
 * Topics (`/topic/`, wildcards) and RabbitMQ's fanout exchange (exact names) are separate
 * namespaces; `reply` carries messages for a connection's temporary queues (name
 * `<session>.<queue>`) to the node that connection is on.
 */
export type TopicKind = 'topic' | 'fanout' | 'reply'

/** Where a backplane hands what other nodes published. */
export type RemoteDelivery = (kind: TopicKind, name: string, message: Message) => void

export interface Backplane {
  /** This node's id: unique in the cluster, new at every start. */
  readonly nodeId: string
  /**
   * Sends a message published on this node to the other nodes (never back to this one).
   * Resolves once the engine took it; rejects (StompError `cluster-unavailable`) when it cannot.
   */
  publish(kind: TopicKind, name: string, message: Message): Promise<void>
  /**
   * This node has a subscriber for `pattern` (topic wildcards `*` and `#`; exact for fanout):
   * from now on, other nodes' messages that match it reach `onMessage`. Counted: as many
   * unlisten() calls end it.
   */
  listen(kind: TopicKind, pattern: string): void
  unlisten(kind: TopicKind, pattern: string): void
  /** Set once, by the broker, before the first listen(). */
  onMessage: RemoteDelivery
  /** Null while the engine is reachable; otherwise why not (for /readyz and ERRORs). */
  readonly problem: string | null
  close(): Promise<void>
}

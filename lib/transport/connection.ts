// The one interface between a transport (WebSocket, TCP) and the session above it:
// bytes in, bytes out, a backpressure signal and a close reason. Nothing STOMP-specific.

export type CloseReason =
  | 'client-left'        // the peer closed or the socket failed
  | 'client-disconnect'  // DISCONNECT, answered
  | 'protocol-error'     // an ERROR frame was sent
  | 'heartbeat-timeout'
  | 'connect-timeout'
  | 'slow-consumer'
  | 'shutdown'
  | 'token-expired'

export type TransportKind = 'ws' | 'tcp'

/**
 * What a connection reports to the layer above it. One object rather than a callback per
 * event: an idle connection then holds no closures, and there may be tens of thousands.
 */
export interface ConnectionListener {
  /** Inbound bytes. A zero-length chunk means the peer is alive without sending bytes (a WebSocket pong). */
  onData(chunk: Buffer): void
  /** The outbound buffer fell back under the high-water mark after write() returned false. */
  onDrain(): void
  /** Called once, when the connection is gone. */
  onClose(reason: CloseReason): void
  /**
   * The peer sent a message larger than the transport itself accepts; the connection closes
   * right after the listener returns, so it can still write a last word.
   */
  onOversized(): void
}

export interface Connection {
  readonly transport: TransportKind
  /** `host:port` of the peer, for logs. */
  readonly remote: string
  /** Outbound bytes not yet handed to the kernel. */
  readonly bufferedBytes: number
  /** Free bytes the transport would like in front of what it writes, for a header of its own (0: none). */
  readonly headroom: number
  /**
   * Most bytes of frames one write() should carry: a WebSocket message the peer can take (Tomcat's
   * client refuses text messages over 8 KiB). Writes hold whole frames: a larger frame goes alone.
   * 0 = no cap (a byte stream).
   */
  readonly maxMessageBytes: number
  /**
   * Writes `parts` as one unit (one WebSocket message; one writev on TCP). Returns false
   * once the outbound buffer is past the high-water mark; `onDrain` fires when it is not.
   * `text` says the bytes are valid UTF-8 (a WebSocket sends them as a text message).
   * `roomInFront` free bytes precede `parts[0]` in its memory: the transport may write its
   * header there (at most `headroom` of them are ever offered; 0 when there are none).
   * The array is the caller's and reused: the buffers may be kept, the array not.
   */
  write(parts: readonly Buffer[], text: boolean, roomInFront: number): boolean
  /** A token the client put in the WebSocket URL (`?access_token=`), as browsers cannot set headers; '' for none. */
  readonly accessToken: string
  /** The CN of the client's verified TLS certificate; '' for none. */
  readonly certificateName: string
  /** Holds writes until uncork(), so several write() calls reach the kernel as one. */
  cork(): void
  uncork(): void
  /** Where inbound bytes and events go from now on; called once, right after the connection is made. */
  attach(listener: ConnectionListener): void
  /** Inbound flow control: stop reading while the session has too much outstanding. */
  pause(): void
  resume(): void
  /** Transport-level keep-alive for idle proxies (a WebSocket ping); a no-op on TCP. */
  keepAlive(): void
  /** Flushes what was written, then closes. */
  close(reason: CloseReason): void
}

/**
 * Bytes still read from a peer after the broker has closed its side (to see the peer close too)
 * before it stops reading altogether and lets the close timeout drop the socket. A client that
 * was refused mid-way through a 20 MB frame would otherwise have the rest read and thrown away.
 */
export const LINGER_BYTES = 64 * 1024

/** The address part of a Connection's `remote` (`host:port`, IPv6 with or without brackets). */
export function addressOf(remote: string): string {
  const colon = remote.lastIndexOf(':')
  return (colon < 0 ? remote : remote.slice(0, colon)).replace(/^\[|\]$/g, '')
}

// A child process of the connect storm (storm.ts), driven over the IPC channel:
//   { type: 'prepare', ... } → opens and closes `warmup` connections (not counted: JIT on both
//                              sides), answers { type: 'ready' }
//   { type: 'go' }           → opens `count` connections, `concurrency` at a time, each
//                              CONNECT → CONNECTED → DISCONNECT → closed, answers { type: 'done' };
//                              exits when the parent disconnects
// Connection k of the storm is load client `first + k`: with stompd secured it CONNECTs with that
// client's own token (client.ts), so every CONNECT is a token verified, none a repeat.
import { LoadConnection, type Endpoint } from './client.js'

export interface StormPrepare {
  type: 'prepare'
  endpoint: Endpoint
  /** This process's first load-client number (picks the passcodes). */
  first: number
  count: number
  concurrency: number
  warmup: number
}

export type StormToChild = StormPrepare | { type: 'go' }

export type StormFromChild =
  | { type: 'ready' }
  | { type: 'done', ok: number, failed: number, firstError: string | null }

const send = (message: StormFromChild): void => {
  process.send!(message)
}

/** Opens and closes `count` connections from client number `first`, `concurrency` at a time. */
async function storm(endpoint: Endpoint, first: number, count: number, concurrency: number): Promise<{ ok: number, failed: number, firstError: string | null }> {
  let next = 0
  let ok = 0
  let failed = 0
  let firstError: string | null = null
  const lane = async (): Promise<void> => {
    while (next < count) {
      const client = first + next++
      const connection = new LoadConnection(endpoint, {
        onFrame: () => {},
        onClose: (_expected, detail) => {
          firstError ??= `closed by the broker after CONNECTED: ${detail}`
        },
      }, client)
      try {
        await connection.open('0,0')
      } catch (err) {
        failed++
        firstError ??= (err as Error).message
        continue
      }
      ok++
      await connection.close() // DISCONNECT, then the WebSocket close handshake
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane))
  return { ok, failed, firstError }
}

let prepared: StormPrepare | null = null

process.on('message', (message: StormToChild) => {
  if (message.type === 'prepare') {
    prepared = message
    void storm(message.endpoint, message.first, message.warmup, message.concurrency).then(() => send({ type: 'ready' }))
    return
  }
  const { endpoint, first, count, concurrency } = prepared!
  void storm(endpoint, first, count, concurrency).then((result) => send({ type: 'done', ...result }))
})
// The parent disconnects once it has the result; going away (a killed bench) must not leave sockets open either.
process.on('disconnect', () => process.exit(0))

// One client's input may hold the event loop for a couple of milliseconds at most: a WebSocket
// message (or a TCP read) carrying thousands of frames is taken in over several turns, so a
// client writing at the same time is answered in between, and the big batch still takes effect
// whole and in order.
import t from 'tap'
import { RawClient, getHeader } from '../helpers/raw.js'
import { startServer } from '../helpers/server.js'

const FRAMES = 50_000

for (const transport of ['ws', 'tcp'] as const) {
  t.test(`over ${transport}: ${FRAMES.toLocaleString('en-US')} receipted SENDs in one write do not keep another client waiting, and all take effect in order`, async (t) => {
    const { addresses } = await startServer(t)
    const open = (): Promise<RawClient> => (transport === 'ws' ? RawClient.ws(t, addresses.ws) : RawClient.tcp(t, addresses.tcp!))
    const batcher = await open()
    const bystander = await open()
    await batcher.connect()
    await bystander.connect()
    const batch = Array.from({ length: FRAMES }, (_, i) => `SEND\ndestination:/queue/batch\nreceipt:${i}\n\n${i}\0`).join('')
    const receipts = (): number => batcher.frames.filter((f) => f.command === 'RECEIPT').length
    batcher.send(batch)
    // Once the batch is being taken in (its first RECEIPT is out), the bystander writes.
    await batcher.until(() => receipts() > 0, 10_000)
    bystander.frame('SEND', [['destination', '/queue/batch'], ['receipt', 'mine']], 'hello')
    await bystander.until(() => bystander.frames.some((f) => f.command === 'RECEIPT'), 10_000)
    await batcher.until(() => receipts() === FRAMES, 20_000)
    const ids = batcher.frames.filter((f) => f.command === 'RECEIPT').map((f) => Number(getHeader(f, 'receipt-id')))
    t.ok(ids.every((id, i) => id === i), 'every receipt of the batch, in order')

    // Where the bystander's message landed in the queue says when the broker took it in.
    const reader = await open()
    await reader.connect()
    reader.frame('SUBSCRIBE', [['id', '0'], ['destination', '/queue/batch']])
    await reader.until(() => reader.received === FRAMES + 1, 20_000)
    const bodies = reader.frames.filter((f) => f.command === 'MESSAGE').map((f) => f.body.toString())
    const at = bodies.indexOf('hello')
    t.ok(at >= 0 && at < FRAMES / 4, `the bystander's SEND was taken in while the batch was (after ${at.toLocaleString('en-US')} of its ${FRAMES.toLocaleString('en-US')} frames)`)
    bodies.splice(at, 1)
    t.ok(bodies.every((body, i) => body === String(i)), 'the batch whole, in order')
  })
}

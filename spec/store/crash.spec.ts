// Crash safety: stompd is killed with SIGKILL and restarted on the same database; every
// message it sent a RECEIPT for comes back, once, in order.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { encodeFrame } from '../../lib/frame/encoder.js'
import { getHeader } from '../../lib/frame/frame.js'
import { startBrokerProcess, type BrokerProcess } from '../helpers/child.js'
import { RawClient } from '../helpers/raw.js'
import type { Teardown } from '../helpers/server.js'

const COUNT = 10_000
const BATCH = 250

function tempDatabase(t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'stompd-crash-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return `sqlite:${join(dir, 'stompd.db')}`
}

/**
 * Sends COUNT persistent messages, each with a receipt, in batches of BATCH frames per write.
 * `killAfter` receipts in, the broker is killed (SIGKILL) at once. Returns the receipted numbers.
 */
async function sendAndKill(t: Teardown, broker: BrokerProcess, killAfter: number): Promise<Set<number>> {
  const producer = await RawClient.tcp(t, broker.tcp)
  await producer.connect()
  const receipted = new Set<number>()
  let killed = false
  const frames: Buffer[] = []
  for (let n = 0; n < COUNT; n++) {
    frames.push(encodeFrame('SEND', [['destination', '/queue/crash'], ['persistent', 'true'], ['n', String(n)], ['receipt', String(n)]], Buffer.from(`message ${n}`), '1.2'))
  }
  let sent = 0
  let seen = 1 // CONNECTED
  while (!killed) {
    // Keep a few batches in flight, as a producer with a receipt window would.
    while (sent < COUNT && sent - receipted.size < 4 * BATCH) {
      producer.send(Buffer.concat(frames.slice(sent, sent + BATCH)))
      sent += BATCH
    }
    await producer.until(() => producer.frames.length > seen, 30_000)
    for (; seen < producer.frames.length; seen++) {
      const frame = producer.frames[seen]!
      if (frame.command !== 'RECEIPT') throw new Error(`unexpected ${frame.command}: ${getHeader(frame, 'message')}`)
      receipted.add(Number(getHeader(frame, 'receipt-id')))
      if (receipted.size >= killAfter && !killed) {
        // Right after the receipt: nothing but the store may remember these messages now.
        broker.child.kill('SIGKILL')
        killed = true
      }
    }
  }
  await broker.exited
  return receipted
}

interface Received {
  n: number
  redelivered: boolean
}

/** Restarts on the same database and reads the queue until every receipted message has come and the queue is quiet. */
async function restartAndConsume(t: Teardown, store: string, receipted: Set<number>): Promise<Received[]> {
  const broker = await startBrokerProcess(t, ['--store', store])
  const consumer = await RawClient.tcp(t, broker.tcp)
  await consumer.connect()
  consumer.frame('SUBSCRIBE', [['id', '1'], ['destination', '/queue/crash'], ['ack', 'auto']])
  const seen = new Set<number>()
  await consumer.until(() => {
    for (const frame of consumer.frames) if (frame.command === 'MESSAGE') seen.add(Number(getHeader(frame, 'n')))
    for (const n of receipted) if (!seen.has(n)) return false
    return true
  }, 60_000)
  await consumer.quiet(300)
  return consumer.frames.filter((f) => f.command === 'MESSAGE').map((f) => ({ n: Number(getHeader(f, 'n')), redelivered: getHeader(f, 'redelivered') === 'true' }))
}

function check(t: Tap, received: Received[], receipted: Set<number>): void {
  const counts = new Map<number, number>()
  for (const { n } of received) counts.set(n, (counts.get(n) ?? 0) + 1)
  const missing = [...receipted].filter((n) => !counts.has(n))
  t.same(missing, [], `all ${receipted.size} receipted messages are back`)
  const unmarkedDuplicates = received.filter(({ n, redelivered }) => counts.get(n)! > 1 && !redelivered)
  t.same(unmarkedDuplicates.length, 0, 'a message comes back more than once only if marked redelivered')
  const once = new Set<number>()
  const firsts = received.filter(({ n }) => !once.has(n) && once.add(n) !== undefined).map(({ n }) => n)
  t.ok(firsts.every((n, i) => i === 0 || n > firsts[i - 1]!), 'in the order they were sent')
}

type Tap = Parameters<Parameters<typeof t.test>[0]>[0]

t.test('every receipted message survives SIGKILL right after the last RECEIPT, exactly once and in order', async (t) => {
  const store = tempDatabase(t)
  const broker = await startBrokerProcess(t, ['--store', store])
  const receipted = await sendAndKill(t, broker, COUNT)
  t.equal(receipted.size, COUNT, 'the broker acknowledged every message before being killed')
  const received = await restartAndConsume(t, store, receipted)
  check(t, received, receipted)
  t.equal(received.length, COUNT, 'and nothing else')
})

t.test('every receipted message survives SIGKILL in the middle of a send burst', async (t) => {
  const store = tempDatabase(t)
  const broker = await startBrokerProcess(t, ['--store', store])
  const receipted = await sendAndKill(t, broker, COUNT / 2)
  t.ok(receipted.size >= COUNT / 2 && receipted.size < COUNT, `${receipted.size} of ${COUNT} were receipted before the kill`)
  const received = await restartAndConsume(t, store, receipted)
  check(t, received, receipted)
})

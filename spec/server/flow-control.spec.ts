// Flow control: a consumer that reads nothing never makes the broker hold unbounded memory.
import net from 'node:net'
import t from 'tap'
import { WebSocket } from 'ws'
import { encodeFrame } from '../../lib/frame/encoder.js'
import { errorMessage } from '../../lib/errors.js'
import { getHeader } from '../../lib/frame/frame.js'
import { RawClient, splitAddress } from '../helpers/raw.js'
import { startServer, type Teardown } from '../helpers/server.js'
import { currentRss, peakRss, startBrokerProcess } from '../helpers/child.js'

const MESSAGES = 100_000
const BODY = Buffer.alloc(2048, 0x61)

/** A subscriber over raw TCP that stops reading right after subscribing. */
async function stalledSubscriber(address: string, destination: string): Promise<net.Socket> {
  const [host, port] = splitAddress(address)
  const socket = net.connect({ host, port })
  await new Promise<void>((resolve) => socket.once('connect', resolve))
  socket.on('error', () => {})
  socket.write(encodeFrame('CONNECT', [['accept-version', '1.2']], Buffer.alloc(0), '1.2'))
  socket.write(encodeFrame('SUBSCRIBE', [['id', '1'], ['destination', destination], ['receipt', 'r']], Buffer.alloc(0), '1.2'))
  await new Promise<void>((resolve) => {
    let seen = ''
    const onData = (chunk: Buffer) => {
      seen += chunk.toString('latin1')
      if (seen.includes('receipt-id:r')) {
        socket.off('data', onData)
        resolve()
      }
    }
    socket.on('data', onData)
  })
  socket.pause()
  return socket
}

/**
 * Sends `count` messages the way a well-behaved producer does: in batches of 100 per write,
 * asking for a receipt every 1,000 and waiting for it before going on.
 */
async function flood(producer: RawClient, destination: string, count: number): Promise<void> {
  const frame = encodeFrame('SEND', [['destination', destination]], BODY, '1.2')
  const batch = Buffer.concat(Array.from({ length: 100 }, () => frame))
  for (let sent = 0; sent < count; sent += 100) {
    producer.send(batch)
    if ((sent + 100) % 1000 === 0) {
      const id = `r${sent}`
      producer.frame('SEND', [['destination', '/queue/flood-receipts'], ['receipt', id]])
      await producer.until(() => producer.frames.some((f) => getHeader(f, 'receipt-id') === id), 30_000)
    }
  }
}

/** A subscriber that keeps reading and only counts the MESSAGE frames it gets. */
async function countingSubscriber(t: Teardown, address: string, destination: string): Promise<{ count: () => number }> {
  const client = await RawClient.tcp(t, address, { keepFrames: false })
  await client.connect()
  client.frame('SUBSCRIBE', [['id', 'w'], ['destination', destination], ['receipt', 'w']])
  await client.next()
  return { count: () => client.received }
}

t.test('a topic subscriber that reads nothing is dropped as a slow consumer, and the broker\'s memory stays bounded', async (t) => {
  // A separate process, so the figure is the broker's own memory and nothing of the test's.
  const broker = await startBrokerProcess(t, ['--store', 'memory', '--slow-consumer-backlog', '5000', '--high-water-mark', String(256 * 1024)])
  const stalled = await stalledSubscriber(broker.tcp, '/topic/firehose')
  const watcher = await countingSubscriber(t, broker.tcp, '/topic/firehose')
  const producer = await RawClient.tcp(t, broker.tcp)
  await producer.connect()

  // Once the broker gives up on the stalled subscriber, it reads again, to see why.
  const httpBase = broker.ws.replace(/^ws:/, 'http:').replace(/\/ws$/, '')
  const dropped = new Promise<string>((resolve) => {
    let tail = ''
    stalled.on('data', (chunk: Buffer) => { tail = (tail + chunk.toString('latin1')).slice(-4096) })
    stalled.once('close', () => resolve(tail))
  })
  const poll = setInterval(() => {
    void fetch(`${httpBase}/metrics`).then((r) => r.text()).then((metrics) => {
      if (/^stompd_slow_consumers_total 1$/m.test(metrics)) {
        clearInterval(poll)
        stalled.resume()
      }
    }, () => {})
  }, 50)
  t.teardown(() => clearInterval(poll))

  const before = currentRss(broker.child.pid!)
  await flood(producer, '/topic/firehose', MESSAGES)
  const growth = peakRss(broker.child.pid!) - before
  // Holding every message for the stalled subscriber would take 200 MB of bodies alone.
  t.ok(growth < 96 * 1024 * 1024, `broker peak RSS grew by ${(growth / 1048576).toFixed(1)} MB while ${MESSAGES} messages of 2 KiB went by`)

  await new Promise<void>((resolve, reject) => {
    const deadline = Date.now() + 30_000
    const poll = setInterval(() => {
      if (watcher.count() >= MESSAGES) resolve()
      else if (Date.now() > deadline) reject(new Error(`the reading subscriber got ${watcher.count()} of ${MESSAGES}`))
      else return
      clearInterval(poll)
    }, 20)
  })
  t.equal(watcher.count(), MESSAGES, 'a subscriber that keeps reading gets every message')

  const tail = await dropped
  t.match(tail, `ERROR\nmessage:${errorMessage('slow-consumer')}`, 'it was told why, then disconnected')
})

t.test('a queue consumer that reads nothing stops receiving; messages wait in the queue and all arrive, in order, once it reads again', async (t) => {
  const highWaterMark = 256 * 1024
  const { server, addresses } = await startServer(t, { highWaterMark })
  const stalled = await stalledSubscriber(addresses.tcp!, '/queue/backlog')
  const producer = await RawClient.tcp(t, addresses.tcp!)
  await producer.connect()
  const count = 20_000
  const sent: number[] = []
  for (let i = 0; i < count; i++) {
    producer.frame('SEND', [['destination', '/queue/backlog'], ['n', String(i)]], BODY)
    sent.push(i)
    if (i % 2000 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  producer.frame('SEND', [['destination', '/queue/other'], ['receipt', 'done']])
  await producer.until(() => producer.frames.some((f) => getHeader(f, 'receipt-id') === 'done'), 30_000)

  const session = [...server.sessions].find((s) => s.subscriptions.size === 1 && s.subscriptions.has('1'))!
  // At most one turn's batch past the mark: the broker stopped writing when the socket said so.
  t.ok(session.connection.bufferedBytes <= 2 * highWaterMark + 64 * 1024, `the broker buffers ${session.connection.bufferedBytes} bytes for the stalled consumer`)
  const queue = server.broker.queue('backlog')
  t.ok(queue.depth > count / 2, `${queue.depth} messages wait in the queue`)

  // Read everything back, in order.
  let buffered = Buffer.alloc(0)
  const received: number[] = []
  await new Promise<void>((resolve) => {
    stalled.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk])
      let at: number
      while ((at = buffered.indexOf(0)) >= 0) {
        const frame = buffered.subarray(0, at).toString('latin1')
        const n = /\nn:(\d+)\n/.exec(frame)
        if (n !== null) received.push(Number(n[1]))
        buffered = buffered.subarray(at + 1)
      }
      if (received.length === count) resolve()
    })
    stalled.resume()
  })
  t.same(received, sent, 'every message, in send order')
  stalled.destroy()
})

t.test('over WebSocket too: a stalled queue consumer gets every message whole and in order once it reads again', async (t) => {
  // The broker reuses a connection's write buffer only once the socket holds none of it: while
  // this consumer reads nothing, what is queued for it must stay as it was written — also while
  // busy topic subscribers on other connections get and give back buffers of the same pool.
  const { addresses } = await startServer(t, { highWaterMark: 128 * 1024 })
  const ws = new WebSocket(addresses.ws, ['v12.stomp'])
  t.teardown(() => ws.terminate())
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
  })
  let text = ''
  const received: Array<{ n: number, body: string }> = []
  let receipted: () => void = () => {}
  const subscribed = new Promise<void>((resolve) => { receipted = resolve })
  ws.on('message', (data: Buffer) => {
    text += data.toString('latin1')
    let at: number
    while ((at = text.indexOf('\0')) >= 0) {
      const frame = text.slice(0, at)
      text = text.slice(at + 1).replace(/^\n+/, '')
      if (frame.includes('receipt-id:sub')) receipted()
      const n = /\nn:(\d+)\n/.exec(frame)
      if (n !== null) received.push({ n: Number(n[1]), body: frame.slice(frame.indexOf('\n\n') + 2) })
    }
  })
  ws.send('CONNECT\naccept-version:1.2\nhost:x\n\n\0')
  ws.send('SUBSCRIBE\nid:1\ndestination:/queue/ws-backlog\nreceipt:sub\n\n\0')
  await subscribed
  const socket = (ws as unknown as { _socket: net.Socket })._socket
  socket.pause()

  const busy: RawClient[] = []
  for (let i = 0; i < 2; i++) {
    const subscriber = await RawClient.ws(t, addresses.ws)
    await subscriber.connect()
    subscriber.frame('SUBSCRIBE', [['id', 'busy'], ['destination', '/topic/ws-busy'], ['receipt', 'busy']])
    await subscriber.next()
    busy.push(subscriber)
  }

  const producer = await RawClient.tcp(t, addresses.tcp!)
  await producer.connect()
  const count = 10_000
  const bodyOf = (i: number): string => String(i).padStart(8, '0').repeat(64)
  const busyBodyOf = (i: number): string => `busy ${i} `.repeat(40)
  for (let i = 0; i < count; i++) {
    producer.frame('SEND', [['destination', '/queue/ws-backlog'], ['n', String(i)]], Buffer.from(bodyOf(i), 'latin1'))
    producer.frame('SEND', [['destination', '/topic/ws-busy'], ['n', String(i)]], busyBodyOf(i))
    if (i % 1000 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  producer.frame('SEND', [['destination', '/queue/other'], ['receipt', 'done']])
  await producer.until(() => producer.frames.some((f) => getHeader(f, 'receipt-id') === 'done'), 30_000)
  t.ok(received.length < count, `the stalled consumer had ${received.length} of ${count} before it read again`)

  socket.resume()
  await new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (received.length >= count) {
        clearInterval(poll)
        resolve()
      }
    }, 20)
  })
  t.same(received.map((m) => m.n), Array.from({ length: count }, (_, i) => i), 'every message, in send order')
  const damaged = received.filter((m) => m.body !== bodyOf(m.n))
  t.equal(damaged.length, 0, 'every body as it was sent')
  for (const subscriber of busy) {
    await subscriber.until(() => subscriber.received === count, 30_000)
    const wrong = subscriber.frames.filter((f) => f.command === 'MESSAGE' && f.body.toString() !== busyBodyOf(Number(getHeader(f, 'n'))))
    t.equal(wrong.length, 0, 'the busy subscribers got every body as it was sent too')
  }
})

t.test('a subscriber that got a burst gives its large write buffer back while it keeps receiving a trickle', async (t) => {
  const { addresses } = await startServer(t)
  const rentedBytes = async (): Promise<number> => {
    const metrics = await (await fetch(`${addresses.http}/metrics`)).text()
    const line = metrics.split('\n').find((l) => l.startsWith('stompd_outbox_rented_bytes '))!
    return Number(line.split(' ')[1])
  }
  const subscriber = await RawClient.tcp(t, addresses.tcp!, { keepFrames: false })
  await subscriber.connect()
  subscriber.frame('SUBSCRIBE', [['id', '1'], ['destination', '/topic/burst'], ['receipt', 's']])
  await subscriber.next()
  const producer = await RawClient.tcp(t, addresses.tcp!)
  await producer.connect()

  // 500 messages of 4 KiB in one write: one turn's worth for the subscriber, well over 64 KiB.
  const frame = encodeFrame('SEND', [['destination', '/topic/burst']], Buffer.alloc(4096, 0x62), '1.2')
  producer.send(Buffer.concat(Array.from({ length: 500 }, () => frame)))
  await subscriber.until(() => subscriber.received === 500, 10_000)
  const afterBurst = await rentedBytes()
  t.ok(afterBurst >= 64 * 1024, `${afterBurst} bytes of write buffers just after the burst`)

  for (let i = 0; i < 25; i++) {
    producer.frame('SEND', [['destination', '/topic/burst']], 'trickle')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  await subscriber.until(() => subscriber.received === 525)
  const afterTrickle = await rentedBytes()
  t.ok(afterTrickle < 16 * 1024, `${afterTrickle} bytes after 2.5 s of one message every 100 ms`)
})

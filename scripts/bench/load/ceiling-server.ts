// The ceiling: a raw broadcast server with no STOMP at all, run as a child process by the bench.
// Whatever any broker does per message, it cannot beat passing the publisher's bytes on as they
// are, so this measures what `ws` (or `net`) and the machine allow.
//
//   WebSocket  ws://host:P/pub/<channel>   every message received is ws.send as-is ...
//              ws://host:P/sub/<channel>   ... to every subscriber of <channel> (one WebSocket
//                                          message each), or for a channel named `queue.*` to
//                                          the next subscriber in turn (round-robin)
//              any other path              accepted and held open (idle connections)
//   TCP        first line `PUB <channel>` or `SUB <channel>`, answered `OK`, then raw bytes:
//              a publisher's chunks are written to every subscriber (one publisher per channel,
//              so the byte stream each subscriber sees stays whole frames)
//
// Messages subscribers send (ACKs, heart-beats) are read and dropped. Prints one line,
// `ceiling listening ws=ws://127.0.0.1:P tcp=127.0.0.1:Q`, then serves until SIGTERM.
import net, { type AddressInfo } from 'node:net'
import { WebSocketServer, type RawData, type WebSocket } from 'ws'

interface Channel {
  queue: boolean
  ws: WebSocket[]
  tcp: net.Socket[]
  next: number // round-robin position for queue channels
}

const channels = new Map<string, Channel>()

function channel(name: string): Channel {
  let found = channels.get(name)
  if (found === undefined) {
    found = { queue: name.startsWith('queue.'), ws: [], tcp: [], next: 0 }
    channels.set(name, found)
  }
  return found
}

function remove<T>(list: T[], item: T): void {
  const at = list.indexOf(item)
  if (at >= 0) list.splice(at, 1)
}

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 })
wss.on('connection', (ws, request) => {
  ws.on('error', () => {}) // a load generator going away mid-write is not an event here
  const match = /^\/(pub|sub)\/([^/?]+)/.exec(request.url ?? '')
  if (match === null) return // an idle connection: held, nothing else
  const target = channel(match[2]!)
  if (match[1] === 'sub') {
    target.ws.push(ws)
    ws.on('close', () => remove(target.ws, ws))
    return
  }
  ws.on('message', (data: RawData, isBinary: boolean) => {
    const subscribers = target.ws
    if (subscribers.length === 0) return
    if (target.queue) {
      target.next = (target.next + 1) % subscribers.length
      subscribers[target.next]!.send(data, { binary: isBinary })
      return
    }
    for (let i = 0; i < subscribers.length; i++) subscribers[i]!.send(data, { binary: isBinary })
  })
})

const tcp = net.createServer({ noDelay: true }, (socket) => {
  let head = ''
  const onHead = (chunk: Buffer): void => {
    head += chunk.toString('latin1')
    const eol = head.indexOf('\n')
    if (eol < 0) return
    socket.off('data', onHead)
    const [role, name] = head.slice(0, eol).trim().split(' ')
    const target = channel(name ?? '')
    const rest = Buffer.from(head.slice(eol + 1), 'latin1')
    if (role === 'SUB') {
      target.tcp.push(socket)
      socket.on('close', () => remove(target.tcp, socket))
      socket.on('data', () => {}) // ACKs and heart-beats: dropped
      socket.write('OK\n')
      return
    }
    const forward = (data: Buffer): void => {
      for (const subscriber of target.tcp) subscriber.write(data)
    }
    socket.write('OK\n')
    if (rest.length > 0) forward(rest)
    socket.on('data', forward)
  }
  socket.on('data', onHead)
  socket.on('error', () => {}) // a load generator going away mid-write is not an event here
})

wss.on('listening', () => {
  tcp.listen({ host: '127.0.0.1', port: 0 }, () => {
    const wsPort = (wss.address() as AddressInfo).port
    const tcpPort = (tcp.address() as AddressInfo).port
    process.stdout.write(`ceiling listening ws=ws://127.0.0.1:${wsPort} tcp=127.0.0.1:${tcpPort}\n`)
  })
})

process.on('SIGTERM', () => process.exit(0))

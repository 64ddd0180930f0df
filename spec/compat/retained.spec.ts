// Last values, as MQTT brokers keep them: a SEND with `retain:true` to a topic is kept as that
// topic's last value; a new subscriber gets it first, marked `retained:true`, then what is
// published after; a later retained SEND replaces it, an empty one clears it; a wildcard
// subscription gets the last value of each topic it matches; a persistent one survives a
// restart. Raw clients over TCP and WebSocket.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { eventually, TRANSPORTS } from '../helpers/expect.js'
import { startServer } from '../helpers/server.js'
import { bodies, header, messages, open, request, subscribe } from '../helpers/stomp.js'

for (const transport of TRANSPORTS) {
  t.test(`a new subscriber gets the topic's last value first, marked retained:true, then live messages (${transport})`, async (t) => {
    const { addresses } = await startServer(t)
    const publisher = await open(t, addresses, transport)
    await request(publisher, 'SEND', [['destination', '/topic/status.door'], ['retain', 'true']], 'closed')
    await request(publisher, 'SEND', [['destination', '/topic/status.door'], ['retain', 'true']], 'open')
    await request(publisher, 'SEND', [['destination', '/topic/status.door']], 'not retained')
    const late = await open(t, addresses, transport)
    await subscribe(late, 's', '/topic/status.door')
    await request(publisher, 'SEND', [['destination', '/topic/status.door']], 'live')
    await eventually(() => messages(late).length >= 2, 5000, 'two messages')
    t.same(bodies(messages(late)), ['open', 'live'], 'the last retained value, then the live one')
    t.equal(header(messages(late)[0]!, 'retained'), 'true')
    t.equal(header(messages(late)[1]!, 'retained'), undefined, 'a live message is not marked')
    t.equal(header(messages(late)[0]!, 'destination'), '/topic/status.door')
  })

  t.test(`a wildcard subscription gets each matching topic's last value; an empty retained SEND clears one (${transport})`, async (t) => {
    const { addresses } = await startServer(t)
    const publisher = await open(t, addresses, transport)
    for (const [room, value] of [['kitchen', '21'], ['hall', '19'], ['attic', '15']]) {
      await request(publisher, 'SEND', [['destination', `/topic/temp.${room}`], ['retain', 'true']], value)
    }
    await request(publisher, 'SEND', [['destination', '/topic/temp.attic'], ['retain', 'true']], '')
    await request(publisher, 'SEND', [['destination', '/topic/other'], ['retain', 'true']], 'elsewhere')
    const all = await open(t, addresses, transport)
    await subscribe(all, 's', '/topic/temp.*')
    const selective = await open(t, addresses, transport)
    await subscribe(selective, 's', '/topic/temp.*', [['selector', "retained = 'true' AND destination = '/topic/temp.hall'"]])
    await eventually(() => messages(all).length >= 2 && messages(selective).length >= 1, 5000, 'the retained values')
    await new Promise((resolve) => setTimeout(resolve, 100))
    t.same(bodies(messages(all)).sort(), ['19', '21'], 'kitchen and hall; the attic was cleared')
    t.same(bodies(messages(selective)), ['19'], 'a selector applies to retained values too')
  })
}

t.test('a persistent retained value survives a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stompd-retained-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const store = `sqlite:${join(dir, 'stompd.db')}`
  let running = await startServer(t, { store })
  const publisher = await open(t, running.addresses, 'tcp')
  await request(publisher, 'SEND', [['destination', '/topic/config'], ['retain', 'true'], ['persistent', 'true']], 'v1')
  await request(publisher, 'SEND', [['destination', '/topic/config'], ['retain', 'true'], ['persistent', 'true']], 'v2')
  await request(publisher, 'SEND', [['destination', '/topic/volatile'], ['retain', 'true']], 'gone after a restart')
  await running.server.close()
  running = await startServer(t, { store })
  const subscriber = await open(t, running.addresses, 'ws')
  await subscribe(subscriber, 'a', '/topic/config')
  await subscribe(subscriber, 'b', '/topic/volatile')
  await eventually(() => messages(subscriber).length >= 1, 5000, 'the kept value')
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(bodies(messages(subscriber)), ['v2'], 'the last persistent value; the non-persistent one is gone')
})

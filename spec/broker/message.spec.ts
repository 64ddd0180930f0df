import t from 'tap'
import { Message, type Header, type HeaderSource } from '../../lib/broker/message.js'

function message(headers: Header[] | HeaderSource): Message {
  return new Message({ id: 'm-1', destination: '/queue/a', headers, body: Buffer.from('x'), persistent: false, expires: 0 })
}

t.test('a message keeps the headers it was given', async (t) => {
  const headers: Header[] = [['destination', '/queue/a'], ['k', 'v']]
  t.equal(message(headers).headers, headers)
})

t.test('a message with a header source reads them from it on each use, keeping none', async (t) => {
  let reads = 0
  const source: HeaderSource = { readHeaders: () => { reads++; return [['destination', '/queue/a'], ['k', String(reads)]] } }
  const m = message(source)
  t.same(m.headers, [['destination', '/queue/a'], ['k', '1']])
  t.same(m.headers, [['destination', '/queue/a'], ['k', '2']])
  t.same(m.with('/queue/dlq', [['destination', '/queue/dlq']]).headers, [['destination', '/queue/dlq']], 'with() takes the new headers')
})

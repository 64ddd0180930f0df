import t from 'tap'
import { encodeFrame, encodeMessageHead, messageHeadPrefix, MessageTail } from '../../lib/frame/encoder.js'
import { EMPTY_BODY, type Header } from '../../lib/frame/frame.js'

t.test('encodes a frame with content-length when it has a body', async (t) => {
  const bytes = encodeFrame('SEND', [['destination', '/queue/a']], Buffer.from('hello'), '1.2')
  t.equal(bytes.toString(), 'SEND\ndestination:/queue/a\ncontent-length:5\n\nhello\0')
})

t.test('encodes a frame without a body with no content-length', async (t) => {
  t.equal(encodeFrame('RECEIPT', [['receipt-id', '77']], EMPTY_BODY, '1.2').toString(), 'RECEIPT\nreceipt-id:77\n\n\0')
})

t.test('replaces a content-length header given by the caller with the true one', async (t) => {
  const bytes = encodeFrame('SEND', [['content-length', '999'], ['a', 'b']], Buffer.from('xy'), '1.2')
  t.equal(bytes.toString(), 'SEND\na:b\ncontent-length:2\n\nxy\0')
})

t.test('escapes headers per version', async (t) => {
  const headers: Header[] = [['k:1', 'a\nb:c\\d\re']]
  t.equal(encodeFrame('MESSAGE', headers, EMPTY_BODY, '1.2').toString(), 'MESSAGE\nk\\c1:a\\nb\\cc\\\\d\\re\n\n\0')
  t.equal(encodeFrame('MESSAGE', [['k', 'a\nb:c\\d']], EMPTY_BODY, '1.1').toString(), 'MESSAGE\nk:a\\nb\\cc\\\\d\n\n\0')
})

t.test('never escapes CONNECTED; where no escaping exists, CR and LF cannot forge a header', async (t) => {
  t.equal(encodeFrame('CONNECTED', [['server', 'stompd/1:0']], EMPTY_BODY, '1.2').toString(), 'CONNECTED\nserver:stompd/1:0\n\n\0')
  t.equal(encodeFrame('MESSAGE', [['k', 'a\nforged:yes']], EMPTY_BODY, '1.0').toString(), 'MESSAGE\nk:a forged:yes\n\n\0')
  t.equal(encodeFrame('MESSAGE', [['a:b', 'v']], EMPTY_BODY, '1.0').toString(), 'MESSAGE\na_b:v\n\n\0')
})

t.test('a MESSAGE for many subscribers shares one encoded tail', async (t) => {
  const tail = new MessageTail('m-1', [['destination', '/topic/a'], ['content-type', 'text/plain']], Buffer.from('hi'))
  const shared = tail.encode('1.2')
  t.equal(tail.encode('1.1'), shared, 'no header needs escaping, so the versions share the bytes')
  t.equal(tail.encode('1.0'), shared)
  const head = encodeMessageHead(messageHeadPrefix('sub-1', '1.2'), 'a-1', false)
  t.equal(Buffer.concat([head, shared]).toString(),
    'MESSAGE\nsubscription:sub-1\nack:a-1\nmessage-id:m-1\ndestination:/topic/a\ncontent-type:text/plain\ncontent-length:2\n\nhi\0')
  const again = encodeMessageHead(messageHeadPrefix('s:2', '1.2'), undefined, true)
  t.equal(again.toString(), 'MESSAGE\nsubscription:s\\c2\nredelivered:true\n', 'subscription ids are escaped')
  const auto = messageHeadPrefix('sub-1', '1.2')
  t.equal(encodeMessageHead(auto, undefined, false), auto, 'an auto-acked first delivery is the prefix alone')
})

t.test('a MESSAGE tail is escaped per version when it has to be', async (t) => {
  const tail = new MessageTail('m:1', [['destination', '/topic/a'], ['note', 'x:y']], EMPTY_BODY)
  t.equal(tail.encode('1.2').toString(), 'message-id:m\\c1\ndestination:/topic/a\nnote:x\\cy\n\n\0')
  t.equal(tail.encode('1.0').toString(), 'message-id:m:1\ndestination:/topic/a\nnote:x:y\n\n\0')
})

t.test('a MESSAGE tail drops the per-delivery headers a sender supplied', async (t) => {
  const tail = new MessageTail('m-1', [['destination', '/q'], ['message-id', 'forged'], ['subscription', 'x'], ['ack', 'y']], EMPTY_BODY)
  t.equal(tail.encode('1.2').toString(), 'message-id:m-1\ndestination:/q\n\n\0')
})

t.test('a MESSAGE tail knows whether its body can travel as WebSocket text', async (t) => {
  t.equal(new MessageTail('m-1', [], Buffer.from('héllo')).isText, true)
  t.equal(new MessageTail('m-1', [], Buffer.from([0xff, 0xfe])).isText, false)
})

t.test('a MESSAGE tail gives back the headers it encoded, in order, without keeping them as strings', async (t) => {
  const headers: Header[] = [['destination', '/queue/a'], ['content-type', 'text/plain'], ['x-note', 'grüße 😀'], ['empty', ''], ['dup', '1'], ['dup', '2'], ['content-length', '5'], ['message-id', 'forged']]
  const expected: Header[] = headers.filter(([name]) => name !== 'content-length' && name !== 'message-id')
  const tail = new MessageTail('m-1', headers, Buffer.from('hello'))
  t.same(tail.readHeaders(), expected, 'before encoding: the given headers, minus what the encoder writes itself')
  tail.encode('1.2')
  t.same(tail.readHeaders(), expected, 'after encoding: decoded from the shared bytes')
  t.same(new MessageTail('m-2', [], EMPTY_BODY).readHeaders(), [], 'no headers, no body')
  const bodyless = new MessageTail('m-3', [['destination', '/topic/t']], EMPTY_BODY)
  bodyless.encode('1.2')
  t.same(bodyless.readHeaders(), [['destination', '/topic/t']])
})

t.test('a MESSAGE tail whose headers need escaping gives them back unescaped', async (t) => {
  const headers: Header[] = [['destination', '/topic/a'], ['note', 'x:y\\z\nw'], ['k:1', 'v']]
  const tail = new MessageTail('m:1', headers, Buffer.from('b'))
  tail.encode('1.2')
  tail.encode('1.0')
  t.same(tail.readHeaders(), headers)
})

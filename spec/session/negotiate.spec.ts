// CONNECT negotiation as pure functions: which STOMP version, which heart-beat intervals.
import t from 'tap'
import { StompError } from '../../lib/errors.js'
import { negotiateHeartBeat, negotiateVersion, SUPPORTED_VERSIONS_HEADER } from '../../lib/session/negotiate.js'

t.test('negotiateVersion picks the highest version both sides speak', async (t) => {
  const cases: Array<[acceptVersion: string | undefined, expected: string | null]> = [
    [undefined, '1.0'],
    ['1.0', '1.0'],
    ['1.1', '1.1'],
    ['1.2', '1.2'],
    ['1.1,1.2', '1.2'],
    ['1.2,1.1', '1.2'],
    ['1.0,1.1', '1.1'],
    ['1.0,1.1,1.2', '1.2'],
    ['1.0,2.0', '1.0'],
    [' 1.0 , 1.1 ', '1.1'],
    ['1.1,3.0,1.2', '1.2'],
  ]
  for (const [acceptVersion, expected] of cases) {
    t.equal(negotiateVersion(acceptVersion), expected, `accept-version ${JSON.stringify(acceptVersion)} → ${expected}`)
  }
})

t.test('negotiateVersion finds no common version in an offer without ours', async (t) => {
  for (const acceptVersion of ['2.0', '0.9', '1.3', '1', '1.2.0', '', 'v12.stomp']) {
    t.equal(negotiateVersion(acceptVersion), null, `accept-version ${JSON.stringify(acceptVersion)} → none`)
  }
  t.equal(SUPPORTED_VERSIONS_HEADER, '1.0,1.1,1.2', 'the ERROR version header lists ours')
})

t.test('negotiateHeartBeat runs each direction at the slower side, or not at all when either says 0', async (t) => {
  // [client heart-beat header, server [sx, sy], expected { send, receive }]
  const cases: Array<[header: string | undefined, server: [number, number], send: number, receive: number]> = [
    [undefined, [10_000, 10_000], 0, 0],
    ['0,0', [10_000, 10_000], 0, 0],
    ['100,100', [100, 100], 100, 100],
    ['100,200', [10_000, 10_000], 10_000, 10_000],
    ['20000,30000', [10_000, 10_000], 30_000, 20_000],
    ['0,500', [1000, 1000], 1000, 0],
    ['500,0', [1000, 1000], 0, 1000],
    ['500,500', [0, 0], 0, 0],
    ['500,500', [0, 1000], 0, 1000],
    ['500,500', [1000, 0], 1000, 0],
    [' 10 , 20 ', [5, 5], 20, 10],
  ]
  for (const [header, server, send, receive] of cases) {
    t.same(negotiateHeartBeat(header, server), { send, receive }, `client ${JSON.stringify(header)}, server ${server.join(',')} → send ${send}, receive ${receive}`)
  }
})

t.test('negotiateHeartBeat refuses a header that is not two numbers', async (t) => {
  for (const header of ['', 'often', '100', '1,2,3', '-1,5', '1.5,2', 'a,b', '100;100', '99999999999,1']) {
    const result = negotiateHeartBeat(header, [1000, 1000])
    t.ok(result instanceof StompError, `${JSON.stringify(header)} is refused`)
    if (result instanceof StompError) {
      t.equal(result.code, 'invalid-header')
      t.match(result.detail, /heart-beat/)
    }
  }
})

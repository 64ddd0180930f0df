// One log line when a connection opens and one when it closes, at info: remote address,
// transport, user, STOMP version, why it closed, how long it lasted and the frames each way;
// never a body, a passcode or a token.
import t from 'tap'
import { captureLog, writeUsersFile } from '../auth/helpers.js'
import { eventually, TRANSPORTS } from '../helpers/expect.js'
import { RawClient } from '../helpers/raw.js'
import { startServer } from '../helpers/server.js'
import { request } from '../helpers/stomp.js'

for (const transport of TRANSPORTS) {
  t.test(`a connection's opening and closing are logged once each, with who, how, why, how long and how many frames (${transport})`, async (t) => {
    const log = captureLog('info')
    const users = await writeUsersFile(t.testdir(), { alice: 'correct horse' })
    const { addresses } = await startServer(t, { users, logger: log.logger, logLevel: 'info' })
    const client = transport === 'tcp' ? await RawClient.tcp(t, addresses.tcp!) : await RawClient.ws(t, addresses.ws)
    await client.connect([['accept-version', '1.1,1.2'], ['host', 'localhost'], ['login', 'alice'], ['passcode', 'correct horse']])
    await request(client, 'SUBSCRIBE', [['id', 's'], ['destination', '/topic/log']])
    await request(client, 'SEND', [['destination', '/topic/log']], 'a secret body')
    await eventually(() => client.frames.some((f) => f.command === 'MESSAGE'), 5000, 'the message')
    await request(client, 'DISCONNECT')
    await eventually(() => log.lines().some((line) => line.msg === 'connection closed'), 5000, 'the closing line')
    const opened = log.lines().filter((line) => line.msg === 'connection opened')
    const closed = log.lines().filter((line) => line.msg === 'connection closed')
    t.equal(opened.length, 1)
    t.equal(closed.length, 1)
    t.match(opened[0], { level: 30, transport, remote: /127\.0\.0\.1/ })
    t.match(closed[0], { level: 30, transport, remote: /127\.0\.0\.1/, user: 'alice', version: '1.2', reason: 'client-disconnect' })
    // In: CONNECT, SUBSCRIBE, SEND, DISCONNECT. Out: CONNECTED, three RECEIPTs, the MESSAGE.
    t.match(closed[0], { framesIn: 4, framesOut: 5 })
    t.ok(typeof closed[0]!.durationMs === 'number' && (closed[0]!.durationMs as number) >= 0, 'durationMs')
    t.notMatch(log.text(), /correct horse|a secret body/, 'no passcode and no body in any line')
  })
}

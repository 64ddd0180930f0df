// The CLI as a user meets it: --help lists every option with its default and environment
// variable, --version prints the version, and an unknown flag or a bad value is one line naming
// it, with exit code 2, before anything starts.
import t from 'tap'
import { VERSION } from '../lib/version.js'
import { runCliToExit } from './helpers/cli.js'

t.test('--help and --version print and exit 0; a bad flag or value is one line on stderr and exit 2', async (t) => {
  const [help, version, unknown, bad] = await Promise.all([
    runCliToExit(t, ['--help']),
    runCliToExit(t, ['--version']),
    runCliToExit(t, ['--bogus']),
    runCliToExit(t, ['--max-frame-size', 'huge']),
  ])
  t.equal(help.code, 0)
  t.match(help.stdout, /^Usage: stompd \[options\]/)
  t.match(help.stdout, /--dedup-window <ms>[^\n]*\n {6}default 600000; env STOMPD_DEDUP_WINDOW/)
  t.equal(version.code, 0)
  t.equal(version.stdout.trim(), `stompd ${VERSION}`)
  for (const [run, pattern] of [[unknown, /^stompd: unknown flag --bogus \(try --help\)\n$/], [bad, /^stompd: --max-frame-size must be a whole number[^\n]*"huge"\n$/]] as const) {
    t.equal(run.code, 2, 'exit code 2')
    t.match(run.stderr, pattern, 'one line naming it')
    t.equal(run.stdout, '')
  }
})

// How specs run the real CLI: the compiled dist/cli.js when it is newer than every source file
// (CI builds before it tests; a process then starts in half the time, with dozens started per
// run), else lib/cli.ts through tsx, so a spec never runs code older than the source.
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const DIST_CLI = join(ROOT, 'dist', 'cli.js')
const SOURCE_CLI = join(ROOT, 'lib', 'cli.ts')

function newestSource(dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs)
  }
  return newest
}

let chosen: string[] | null = null

/** The node arguments that start stompd (flags follow them). */
export function stompdCommand(): string[] {
  if (chosen !== null) return chosen
  let distIsFresh = false
  try {
    distIsFresh = statSync(DIST_CLI).mtimeMs >= newestSource(join(ROOT, 'lib'))
  } catch {
    // no build: run the source
  }
  chosen = distIsFresh ? [DIST_CLI] : ['--import', 'tsx', SOURCE_CLI]
  return chosen
}

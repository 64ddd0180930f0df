// Entry point of every load worker thread: registers tsx in this thread, then loads the
// TypeScript worker named in workerData. (Node 20 does not apply the parent's `--import tsx`
// hooks to a worker's own module graph, so `new Worker('./worker.ts')` fails with "Unknown file
// extension"; this plain-JS bootstrap is what makes TypeScript workers load.)
import { workerData } from 'node:worker_threads'
import { register } from 'tsx/esm/api'

register()
await import(workerData.entry)

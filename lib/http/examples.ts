// The browser demo (--examples): the pages in the package's examples/ folder under /examples/,
// and @stomp/stompjs's own browser bundle beside them, read once at start. Off by default: a
// production broker serves no pages it was not asked to.
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyReply } from 'fastify'
import fp from 'fastify-plugin'

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' }

/** Every served file by name: the examples folder's, and the stompjs bundle. */
function files(): Map<string, { type: string, bytes: Buffer }> {
  const folder = fileURLToPath(new URL('../../examples/', import.meta.url))
  const found = new Map<string, { type: string, bytes: Buffer }>()
  for (const name of readdirSync(folder)) {
    const type = TYPES[extname(name)]
    if (type !== undefined) found.set(name, { type, bytes: readFileSync(join(folder, name)) })
  }
  const stompjs = dirname(createRequire(import.meta.url).resolve('@stomp/stompjs'))
  found.set('stomp.umd.min.js', { type: TYPES['.js']!, bytes: readFileSync(join(stompjs, 'stomp.umd.min.js')) })
  return found
}

async function examples(fastify: FastifyInstance, options: { routePrefix?: string }): Promise<void> {
  const served = files()
  const base = `${options.routePrefix ?? ''}/examples`
  fastify.get(base, async (_request, reply) => reply.redirect(`${base}/`))
  const serve = (name: string, reply: FastifyReply) => {
    const file = served.get(name)
    if (file === undefined) return reply.code(404).send({ error: 'no such example' })
    return reply.type(file.type).send(file.bytes)
  }
  fastify.get(`${base}/`, async (_request, reply) => serve('index.html', reply))
  fastify.get<{ Params: { file: string } }>(`${base}/:file`, async (request, reply) => serve(request.params.file, reply))
}

export const examplePages = fp(examples, { name: 'stompd-examples', fastify: '5.x' })

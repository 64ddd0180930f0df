// Starts a real stompd on ephemeral loopback ports for one test, and stops it afterwards.
import { createServer, type ListenAddresses, type ServerOptions, type StompdServer } from '../../lib/server.js'

/** The part of a tap test the helpers need. */
export interface Teardown {
  teardown(fn: () => unknown): void
}

export interface Running {
  server: StompdServer
  addresses: ListenAddresses
}

export async function startServer(t: Teardown, options: ServerOptions = {}): Promise<Running> {
  const server = createServer({ host: '127.0.0.1', port: 0, tcpPort: 0, store: 'memory', logLevel: 'silent', ...options })
  const addresses = await server.listen()
  t.teardown(() => server.close())
  return { server, addresses }
}

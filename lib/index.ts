// The package's entry: `import { createServer, stompd } from 'stompd'`.
export { createServer, type ListenAddresses, type ServerOptions, type StompdServer } from './server.js'
export { stompd, type StompdPluginOptions } from './plugin.js'
export type { AuthenticateHook } from './auth/setup.js'

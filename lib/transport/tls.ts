// TLS for both listeners: the HTTP port turns into HTTPS (so `wss://`), and STOMP over TLS gets
// a port of its own (--tls-port, 61614). Optional client certificates; a verified one's CN can
// name the user. Certificates are read from files, and again on SIGHUP, without dropping anyone.
import { readFileSync } from 'node:fs'
import type { Socket } from 'node:net'
import tls from 'node:tls'

export type ClientAuth = 'none' | 'optional' | 'required'

export interface TlsFiles {
  cert: string
  key: string
  /** CA bundle client certificates must chain to; '' = none asked for. */
  ca: string
  clientAuth: ClientAuth
}

/** What both TLS servers are built from; re-read for a reload. */
export function readTlsOptions(files: TlsFiles): tls.TlsOptions {
  const asksForCertificates = files.clientAuth !== 'none'
  return {
    cert: readFileSync(files.cert),
    key: readFileSync(files.key),
    ...(files.ca === '' ? {} : { ca: readFileSync(files.ca) }),
    requestCert: asksForCertificates,
    // `optional`: a client without a certificate (or with one that does not verify) still
    // connects, just without a certificate name; `required` refuses it in the handshake.
    rejectUnauthorized: files.clientAuth === 'required',
  }
}

/** The CN of the peer's certificate when it verified against --tls-ca; '' otherwise (or not TLS). */
export function certificateNameOf(socket: Socket): string {
  if (!(socket instanceof tls.TLSSocket) || !socket.authorized) return ''
  const subject = socket.getPeerCertificate().subject as { CN?: string | string[] } | undefined
  const cn = subject?.CN
  return typeof cn === 'string' ? cn : Array.isArray(cn) ? cn[0] ?? '' : ''
}

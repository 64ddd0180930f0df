// Certificates made at test time with the `openssl` command, into a test's own directory
// (t.testdir()): a CA, server certificates for CN=localhost (subjectAltName IP:127.0.0.1 and
// DNS:localhost) and client certificates with whatever CN a spec needs. Nothing is committed.
// Without openssl the spec fails, loudly: TLS is never silently left unchecked.
import { spawnSync } from 'node:child_process'
import { randomBytes, X509Certificate } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** A certificate and its key, as PEM files and as bytes. */
export interface Issued {
  certFile: string
  keyFile: string
  cert: Buffer
  key: Buffer
  /** The subject's CN. */
  cn: string
  /** Upper-case hex, as `socket.getPeerCertificate().serialNumber` reports it. */
  serialNumber: string
  /** `AB:CD:…`, as `socket.getPeerCertificate().fingerprint256` reports it. */
  fingerprint256: string
}

export interface CertificateAuthority extends Issued {
  /** A server certificate: CN `cn` (localhost unless given), subjectAltName IP:127.0.0.1 and DNS:localhost. */
  issueServer(name: string, cn?: string): Issued
  /** A client certificate (extendedKeyUsage clientAuth) for CN `cn`. */
  issueClient(name: string, cn: string): Issued
}

// openssl's own configuration file is not relied on: `req` gets this one.
const REQ_CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
`

const LEAF_COMMON = `basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`
const SERVER_EXTENSIONS = `${LEAF_COMMON}extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
`
const CLIENT_EXTENSIONS = `${LEAF_COMMON}extendedKeyUsage = clientAuth
`

function openssl(dir: string, args: string[]): void {
  const run = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' })
  if (run.error !== undefined) throw new Error(`cannot run openssl (${run.error.message}): the TLS specs make their certificates with it`)
  if (run.status !== 0) throw new Error(`openssl ${args.join(' ')} exited with ${run.status}:\n${run.stderr}`)
}

/** A positive serial whose hex form has no leading zero, so both of Node's views of it agree. */
function freshSerial(): string {
  const bytes = randomBytes(8)
  bytes[0] = 0x10 | (bytes[0]! & 0x6f)
  return `0x${bytes.toString('hex')}`
}

function load(dir: string, name: string, cn: string): Issued {
  const certFile = join(dir, `${name}.crt`)
  const keyFile = join(dir, `${name}.key`)
  const cert = readFileSync(certFile)
  const parsed = new X509Certificate(cert)
  return { certFile, keyFile, cert, key: readFileSync(keyFile), cn, serialNumber: parsed.serialNumber.toUpperCase(), fingerprint256: parsed.fingerprint256 }
}

const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']

/** A fresh CA (EC P-256, valid for two days) whose files are `<name>.crt` and `<name>.key` in `dir`. */
export function makeCa(dir: string, name = 'ca', cn = 'stompd spec CA'): CertificateAuthority {
  const config = join(dir, 'openssl-req.cnf')
  writeFileSync(config, REQ_CONFIG)
  openssl(dir, ['req', '-x509', '-config', config, '-extensions', 'ca', ...NEW_KEY, '-keyout', `${name}.key`, '-out', `${name}.crt`,
    '-subj', `/CN=${cn}`, '-days', '2', '-set_serial', freshSerial()])
  const ca = load(dir, name, cn)
  const issue = (leaf: string, leafCn: string, extensions: string): Issued => {
    const extfile = join(dir, `${leaf}.ext`)
    writeFileSync(extfile, extensions)
    openssl(dir, ['req', '-new', '-config', config, ...NEW_KEY, '-keyout', `${leaf}.key`, '-out', `${leaf}.csr`, '-subj', `/CN=${leafCn}`])
    openssl(dir, ['x509', '-req', '-in', `${leaf}.csr`, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', freshSerial(),
      '-days', '2', '-extfile', extfile, '-out', `${leaf}.crt`])
    return load(dir, leaf, leafCn)
  }
  return {
    ...ca,
    issueServer: (leaf, leafCn = 'localhost') => issue(leaf, leafCn, SERVER_EXTENSIONS),
    issueClient: (leaf, leafCn) => issue(leaf, leafCn, CLIENT_EXTENSIONS),
  }
}

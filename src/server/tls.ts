// TLS for a node's listeners and its connections to other nodes (docs/security.md, TLS).
//
// A node started with `--tls-cert` and `--tls-key` serves TLS only on its native, RESP,
// memcached and admin ports (clients: `--tls --tls-ca`, `redis-cli --tls --cacert`); with
// `--tls-ca` as well, chain traffic between nodes is mutual TLS: each side presents its
// certificate and checks the other's against that CA, beside the cluster secret's proof
// (peer-auth.ts), and the node checks the other nodes it relays to against it. `catena up --tls`
// makes a throw-away CA and one certificate for 127.0.0.1 / localhost (`generateLocalTls`).

import { readFileSync } from 'node:fs';
import forge from 'node-forge';
import { CatenaError } from '../core/errors.js';

/** What a node's listeners and outgoing connections use; PEM text. */
export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
  /** The CA that signed the other nodes' certificates (and that clients trust); absent: peers stay plain TCP. */
  readonly ca?: string;
}

/** Reads the PEM files given on the command line; a clear error names the file that fails. */
export function readTlsFiles(files: { cert: string; key: string; ca?: string }): TlsMaterial {
  const read = (path: string, what: string): string => {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw new CatenaError('ERR_INVALID_ARGUMENT', `cannot read the TLS ${what} ${path}: ${String(error)}`, {
        cause: error,
      });
    }
    if (!text.includes('-----BEGIN')) {
      throw new CatenaError('ERR_INVALID_ARGUMENT', `the TLS ${what} ${path} is not PEM`);
    }
    return text;
  };
  return {
    cert: read(files.cert, 'certificate'),
    key: read(files.key, 'key'),
    ...(files.ca === undefined ? {} : { ca: read(files.ca, 'CA') }),
  };
}

/** A throw-away CA and one server/client certificate it signed, for a cluster on this machine. */
export interface LocalTls {
  readonly caCert: string;
  readonly cert: string;
  readonly key: string;
}

/**
 * Makes a CA (valid 10 years) and a certificate for 127.0.0.1, ::1 and localhost signed by it,
 * usable by servers and clients (every node of `catena up` presents the same one). RSA 2048:
 * node-forge makes keys in pure JavaScript (a second or so).
 */
export function generateLocalTls(): LocalTls {
  const pki = forge.pki;
  const now = new Date();
  const until = new Date(now.getTime() + 10 * 365 * 24 * 3600 * 1000);
  const caName = [{ name: 'commonName', value: 'Catena local CA' }];
  /** A new key pair and a certificate for it, valid from now for ten years, issued by the CA. */
  const certificate = (subject: typeof caName): { keys: forge.pki.rsa.KeyPair; cert: forge.pki.Certificate } => {
    const keys = pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 });
    const cert = pki.createCertificate();
    cert.publicKey = keys.publicKey;
    cert.serialNumber = forge.util.bytesToHex(forge.random.getBytesSync(16)).replace(/^[89a-f]/, '1');
    cert.validity.notBefore = now;
    cert.validity.notAfter = until;
    cert.setSubject(subject);
    cert.setIssuer(caName);
    return { keys, cert };
  };

  const { keys: caKeys, cert: ca } = certificate(caName);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(caKeys.privateKey, forge.md.sha256.create());

  const { keys, cert } = certificate([{ name: 'commonName', value: 'catena node' }]);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        { type: 7, ip: '127.0.0.1' },
        { type: 7, ip: '::1' },
        { type: 2, value: 'localhost' },
      ],
    },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKeys.privateKey, forge.md.sha256.create());

  return {
    caCert: pki.certificateToPem(ca),
    cert: pki.certificateToPem(cert),
    key: pki.privateKeyToPem(keys.privateKey),
  };
}

// Who may speak on the peer port (docs/security.md, "Chain traffic"). Every node of a cluster
// holds the same cluster secret (a file, `--cluster-secret-file`; `catena up` writes one). A node
// that accepts a chain connection sends a fresh random challenge first; the connecting node
// answers with its greeting and an HMAC-SHA256, under the secret, of the cluster, its own node
// id, the id of the node it meant to reach and the challenge. A stranger without the secret
// cannot answer, a recorded greeting is worth nothing on the next connection (a new challenge),
// and a proof made for one node is refused by another. Frames that follow on an authenticated
// connection are not signed one by one: against someone who can rewrite traffic on the wire
// between nodes, the defence is TLS between peers, not this.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { CatenaError } from '../core/errors.js';
import { clusterSecretBytesMin, peerChallengeBytes } from '../core/limits.js';

const proofContext = 'catena peer v1';

/** The proof a connecting node sends: HMAC-SHA256(secret, context, cluster, from, to, challenge). */
export function peerProof(
  secret: Uint8Array,
  cluster: string,
  from: string,
  to: string,
  challenge: Uint8Array,
): Buffer {
  const hmac = createHmac('sha256', secret);
  for (const part of [proofContext, cluster, from, to]) {
    const bytes = Buffer.from(part, 'utf8');
    const length = Buffer.allocUnsafe(4);
    length.writeUInt32BE(bytes.length, 0);
    hmac.update(length).update(bytes); // length-prefixed: no two field lists hash alike
  }
  return hmac.update(challenge).digest();
}

/** True when `proof` is the proof for these fields (compared in constant time). */
export function verifyPeerProof(
  secret: Uint8Array,
  cluster: string,
  from: string,
  to: string,
  challenge: Uint8Array,
  proof: Uint8Array | undefined,
): boolean {
  if (proof === undefined) return false;
  const expected = peerProof(secret, cluster, from, to, challenge);
  return proof.length === expected.length && timingSafeEqual(proof, expected);
}

export function newChallenge(): Buffer {
  return randomBytes(peerChallengeBytes);
}

/** A new cluster secret: 32 random bytes, hex (what `catena up` writes). */
export function generateClusterSecret(): string {
  return randomBytes(32).toString('hex') + '\n';
}

/**
 * Reads a cluster secret file: its content with surrounding whitespace trimmed, at least
 * clusterSecretBytesMin bytes. A file others may read is refused: the secret is the cluster's key.
 */
export function readClusterSecret(path: string): Buffer {
  let text: string;
  try {
    const mode = statSync(path).mode;
    if ((mode & 0o077) !== 0) {
      throw new CatenaError(
        'ERR_INVALID_ARGUMENT',
        `cluster secret file ${path} is readable by others (mode ${(mode & 0o777).toString(8)}): chmod 600 it`,
      );
    }
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof CatenaError) throw error;
    throw new CatenaError('ERR_INVALID_ARGUMENT', `cannot read cluster secret file ${path}: ${String(error)}`, {
      cause: error,
    });
  }
  const secret = Buffer.from(text.trim(), 'utf8');
  if (secret.length < clusterSecretBytesMin) {
    throw new CatenaError(
      'ERR_INVALID_ARGUMENT',
      `cluster secret in ${path} is ${secret.length} bytes: use at least ${clusterSecretBytesMin} (e.g. \`openssl rand -hex 32\`)`,
    );
  }
  return secret;
}

/** True for a loopback address (what a node without a cluster secret accepts peers from). */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
  return plain === '::1' || plain.startsWith('127.');
}

// Keys derived from the cluster secret, one per purpose (HMAC-SHA256 of the purpose under the
// secret), so no two uses of the secret (peer proofs, the coordinator's credentials) can be
// played against each other.

import { createHmac } from 'node:crypto';

export function deriveKey(secret: Uint8Array, purpose: string): Buffer {
  return createHmac('sha256', secret).update(purpose, 'utf8').digest();
}

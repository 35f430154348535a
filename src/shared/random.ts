import { randomBytes } from 'node:crypto';

/** A source of uniform numbers in [0, 1), injected so fault decisions can be replayed. */
export type Random = () => number;

/**
 * mulberry32: a 32-bit seeded generator. Statistical quality is ample for coin flips on faults,
 * and the same seed gives the same fault sequence for the same sequence of calls.
 */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';
// 252 is the largest multiple of 36 below 256; bytes above it are redrawn so no character is
// more likely than another.
const UNBIASED_LIMIT = 252;

/**
 * Gong-style request ids: 19 lowercase alphanumerics (e.g. `4al018gzaztcr8nbukw`). Drawn from the
 * OS generator rather than the seeded one, so ids stay unique across restarts of a seeded sandbox.
 */
export function newRequestId(length = 19): string {
  let id = '';
  while (id.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte >= UNBIASED_LIMIT) continue;
      id += ALPHABET[byte % ALPHABET.length];
      if (id.length === length) break;
    }
  }
  return id;
}

/** Deterministic randomness: one native hash to seed from content, and a tiny PRNG to draw from it. */
import { hash } from 'node:crypto';

/**
 * 32 bits of SHA-1 over the data. Not for security: SHA-1 is the fastest native one-shot digest here
 * (faster than a JS FNV loop beyond ~1 KiB), and a body hash runs once per request.
 */
export function hash32(data: Buffer | string): number {
  return hash('sha1', data, 'buffer').readUInt32LE(0);
}

/** A PRNG returning floats in [0, 1). */
export type Random = () => number;

/** mulberry32: 32-bit state, good enough spread for picking words and faults, and very cheap. */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

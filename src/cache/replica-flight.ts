/**
 * Single-flight across replicas (`routes[].cache.across_replicas`): before a replica calls the
 * upstream for a key nobody on it is answering yet, it tries to take a lock in Redis beside the
 * entry's key. The replica holding it calls; the others poll until the entry appears, the lock goes
 * or `wait_seconds` pass. One claim per local flight, so a replica polls once per key however many
 * of its clients wait. Redis failing at any point means "call it yourself": never worse than
 * without the feature.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisTier } from './redis-tier.ts';

/** How a wait for another replica ended, or that Redis could not tell (`redis_unavailable`). */
export type ReplicaWaitOutcome = 'answered' | 'leader_failed' | 'timed_out' | 'redis_unavailable';

export interface ReplicaLock {
  /** Gives the lock up if it is still ours; never rejects (an unreleased lock expires by itself). */
  release(): Promise<void>;
}

export type ReplicaClaim =
  /** Another replica's answer, as stored (encoded by the entry codec). */
  | { readonly kind: 'answered'; readonly entry: Buffer }
  /**
   * Call the upstream. With `lock`, other replicas wait for this answer until it is released.
   * `outcome` says how a wait before ended; undefined when the lock was free at once.
   */
  | {
      readonly kind: 'call';
      readonly lock: ReplicaLock | undefined;
      readonly outcome: Exclude<ReplicaWaitOutcome, 'answered'> | undefined;
    };

/** The entry (or nil), and whether the lock is still there: one round trip, keys of one slot. */
const POLL = `local entry = redis.call('GET', KEYS[1])
return {redis.call('EXISTS', KEYS[2]), entry}`;

/** {2, entry} when the answer is already stored; else {1} when the lock was taken, {0} when held. */
const CLAIM = `local entry = redis.call('GET', KEYS[1])
if entry then return {2, entry} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', tonumber(ARGV[2])) then return {1} end
return {0}`;

/** Deletes the lock only while it holds our token: after it expired another replica may own it. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

const FIRST_POLL_MS = 10;
const MAX_POLL_MS = 200;

type Poll = { readonly entry: Buffer | undefined; readonly locked: boolean };

function parsePoll(reply: unknown): Poll {
  if (!Array.isArray(reply)) return { entry: undefined, locked: false };
  const [locked, entry] = reply as unknown[];
  return { entry: Buffer.isBuffer(entry) ? entry : undefined, locked: locked === 1 };
}

export class ReplicaFlights {
  private readonly tier: RedisTier;

  constructor(tier: RedisTier) {
    this.tier = tier;
  }

  /** Decides whether this replica calls the upstream for `key`, or takes another replica's answer. */
  async claim(key: string, waitMs: number): Promise<ReplicaClaim> {
    const entryKey = this.tier.keyOf(key);
    const lockKey = `${entryKey}:lock`;
    const first = await this.lock(entryKey, lockKey, waitMs);
    if (first === 'unavailable') return { kind: 'call', lock: undefined, outcome: 'redis_unavailable' };
    if (Buffer.isBuffer(first)) return { kind: 'answered', entry: first };
    if (first !== 'held') return { kind: 'call', lock: first, outcome: undefined };
    const waited = await this.wait(entryKey, lockKey, waitMs);
    if (waited.kind === 'answered' || waited.outcome === 'redis_unavailable') return waited;
    // Once: the replicas that waited race for it, the losers call without waiting a second time.
    const again = await this.lock(entryKey, lockKey, waitMs);
    if (Buffer.isBuffer(again)) return { kind: 'answered', entry: again };
    return { kind: 'call', lock: typeof again === 'string' ? undefined : again, outcome: waited.outcome };
  }

  /**
   * Takes the lock unless the entry is already there (then it is the answer) or another replica
   * holds it. One script, so an answer stored between this replica's L2 miss and its lock attempt
   * is not called for a second time.
   */
  private async lock(
    entryKey: string,
    lockKey: string,
    ttlMs: number,
  ): Promise<ReplicaLock | Buffer | 'held' | 'unavailable'> {
    const token = randomBytes(16).toString('base64url');
    let reply: unknown;
    try {
      reply = await this.tier.script(CLAIM, [entryKey, lockKey], [token, String(Math.ceil(ttlMs))], (r) =>
        Array.isArray(r) && Buffer.isBuffer(r[1]) ? 'hit' : 'set',
      );
    } catch {
      return 'unavailable';
    }
    const [state, entry] = Array.isArray(reply) ? (reply as unknown[]) : [];
    if (Buffer.isBuffer(entry)) return entry;
    if (state !== 1) return 'held';
    return {
      release: async () => {
        try {
          await this.tier.script(RELEASE, [lockKey], [token], () => 'delete');
        } catch {
          // It expires after wait_seconds; until then other replicas wait or time out.
        }
      },
    };
  }

  private async wait(entryKey: string, lockKey: string, waitMs: number): Promise<ReplicaClaim> {
    const deadline = performance.now() + waitMs;
    for (let delay = FIRST_POLL_MS; ; delay = Math.min(delay * 2, MAX_POLL_MS)) {
      const left = deadline - performance.now();
      if (left <= 0) return { kind: 'call', lock: undefined, outcome: 'timed_out' };
      await sleep(Math.min(delay, left));
      let poll: Poll;
      try {
        poll = parsePoll(
          await this.tier.script(POLL, [entryKey, lockKey], [], (reply) =>
            parsePoll(reply).entry ? 'hit' : 'miss',
          ),
        );
      } catch {
        return { kind: 'call', lock: undefined, outcome: 'redis_unavailable' };
      }
      if (poll.entry) return { kind: 'answered', entry: poll.entry };
      if (!poll.locked) return { kind: 'call', lock: undefined, outcome: 'leader_failed' };
    }
  }
}

/**
 * The shared rate-limit store: every decision is one atomic Lua script on the Redis server, timed
 * by the server's clock, so any number of replicas together admit exactly what one would. Like the
 * L2 cache tier it never waits on a sick Redis for long: no offline queue (a command fails at once
 * while disconnected), a bounded command timeout, and a breaker that stops calling a Redis that
 * keeps failing. Unlike the cache it cannot just "miss": acquire() and adjust() reject with a
 * RateStoreUnavailableError and the FailoverRateStore decides what that means for a policy.
 *
 * It reconnects by itself; `onStateChange` hears of each change between up and down once.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster, Redis } from 'ioredis';
import CircuitBreaker from 'opossum';
import { connect, failureKind, planRedisConnection } from '../cache/redis-connection.ts';
import type { DeepReadonly } from '../config/freeze.ts';
import type { RedisConfig } from '../config/types.generated.ts';
import { bucketCapacity, slidingWindow, tokenBucket } from './rate-algorithms.ts';
import { BUCKET_ADJUST, BUCKET_TAKE, type RateScript, WINDOW_ADJUST, WINDOW_TAKE } from './rate-lua.ts';
import {
  assertRatePolicy,
  assertUnits,
  type RateDecision,
  type RatePolicy,
  type RateStore,
  storedKeyPart,
} from './rate-types.ts';

/** `up`: decisions are made in Redis; `down`: disconnected, or the breaker is keeping commands away. */
export type RedisRateState = 'up' | 'down';

/** `rejected`: not sent (disconnected, breaker open or store closed); `error` and `timeout` are disjoint. */
export type RedisRateOutcome = 'ok' | 'error' | 'timeout' | 'rejected';

export interface RedisRateStoreOptions {
  /** Called once per change between up and down, never per request; must not throw. */
  readonly onStateChange?: (state: RedisRateState, reason: string) => void;
  /** Called once per acquire or adjust that reached for Redis, for metrics; must not throw. */
  readonly onCommand?: (outcome: RedisRateOutcome, durationSeconds: number) => void;
  /** How long an open breaker keeps commands away before one probes Redis. Default 5 s. */
  readonly resetTimeoutMs?: number;
}

export class RateStoreUnavailableError extends Error {
  readonly code = 'RATE_STORE_UNAVAILABLE';
}

// Built once: a request that Redis cannot serve costs no allocation or stack trace.
const SKIPPED = new RateStoreUnavailableError('the Redis rate-limit store is unavailable');

type Breaker = CircuitBreaker<[() => Promise<unknown>], unknown>;

/** The script's reply as numbers (`%.17g` text and integers), or an Error for anything else. */
function numbers(reply: unknown, count: number): number[] {
  if (!Array.isArray(reply) || reply.length !== count) throw new Error('unexpected rate script reply');
  const values = reply.map(Number);
  if (values.some((value) => Number.isNaN(value))) throw new Error('unexpected rate script reply');
  return values;
}

export class RedisRateStore implements RateStore {
  readonly #client: Redis | Cluster;
  readonly #breaker: Breaker;
  readonly #keyPrefix: string;
  readonly #commandTimeoutMs: number;
  readonly #options: RedisRateStoreOptions;
  #connected = false;
  /** Undefined until the first connection attempt ends, so its outcome is reported too. */
  #reported: RedisRateState | undefined;
  #lastConnectionError: string | undefined;
  #closing = false;

  constructor(config: DeepReadonly<RedisConfig>, options: RedisRateStoreOptions = {}) {
    this.#options = options;
    this.#keyPrefix = config.key_prefix;
    this.#commandTimeoutMs = config.command_timeout_ms;
    this.#breaker = new CircuitBreaker((command: () => Promise<unknown>) => command(), {
      name: 'redis-ratelimit',
      // Also bounds what ioredis' own timeout does not cover: Cluster redirections.
      timeout: config.command_timeout_ms,
      errorThresholdPercentage: 50,
      volumeThreshold: 5,
      resetTimeout: options.resetTimeoutMs ?? 5000,
      enableSnapshots: false,
    });
    this.#breaker.on('open', () => this.#update('Redis commands keep failing or timing out'));
    this.#breaker.on('close', () => this.#update('Redis answers again'));
    // No offline queue and no resend on a new connection (maxRetriesPerRequest 0): a take that
    // was resent after its reply was lost could charge a client twice.
    this.#client = connect(planRedisConnection(config, 'sluice-ratelimit'));
    this.#client.on('ready', () => {
      this.#connected = true;
      this.#lastConnectionError = undefined;
      // A fresh connection that passed its ready check is evidence enough, and needs no traffic.
      if (!this.#breaker.closed && !this.#closing) this.#breaker.close();
      this.#update('connected');
    });
    this.#client.on('error', (error: Error) => {
      this.#lastConnectionError = error.message;
    });
    this.#client.on('close', () => {
      this.#connected = false;
      this.#update(this.#lastConnectionError ?? 'connection closed');
    });
  }

  /** Whether a call would reach Redis now; while false, acquire() and adjust() reject at once. */
  available(): boolean {
    return this.#connected && !this.#breaker.opened && !this.#closing;
  }

  state(): RedisRateState {
    return this.#connected && this.#breaker.closed ? 'up' : 'down';
  }

  /** `<prefix>:rl:{<policy id>:<key>}`: one key per client and policy, the whole of it the Cluster hash tag. */
  keyOf(policy: RatePolicy, key: string): string {
    return `${this.#keyPrefix}:rl:{${policy.id}:${storedKeyPart(key)}}`;
  }

  async acquire(policy: RatePolicy, key: string, cost: number): Promise<RateDecision> {
    assertRatePolicy(policy);
    assertUnits(cost, false);
    const redisKey = this.keyOf(policy, key);
    const { limit, windowMs } = policy;
    if (policy.algorithm === 'token_bucket') {
      const args = [limit, windowMs, bucketCapacity(policy), cost];
      const [allowed, tokens, nowMs] = await this.#run(BUCKET_TAKE, redisKey, args, 3);
      return tokenBucket.decide(policy, { tokens: tokens!, updatedMs: nowMs! }, nowMs!, cost, allowed === 1);
    }
    const reply = await this.#run(WINDOW_TAKE, redisKey, [limit, windowMs, cost], 5);
    const [allowed, startMs, current, previous, nowMs] = reply;
    const state = { startMs: startMs!, current: current!, previous: previous! };
    return slidingWindow.decide(policy, state, nowMs!, cost, allowed === 1);
  }

  async adjust(policy: RatePolicy, key: string, delta: number): Promise<void> {
    assertRatePolicy(policy);
    assertUnits(delta, true);
    if (delta === 0) return;
    const redisKey = this.keyOf(policy, key);
    const { limit, windowMs } = policy;
    if (policy.algorithm === 'token_bucket') {
      await this.#run(BUCKET_ADJUST, redisKey, [limit, windowMs, bucketCapacity(policy), delta], 2);
    } else {
      await this.#run(WINDOW_ADJUST, redisKey, [limit, windowMs, delta], 4);
    }
  }

  /** Lets commands in flight finish, but never waits on a dead or slow Redis for long. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#breaker.shutdown();
    const quit = this.#client.quit().catch(() => undefined);
    await Promise.race([quit, sleep(this.#commandTimeoutMs * 5, undefined, { ref: false })]);
    this.#client.disconnect();
  }

  /** One script through the breaker; its reply as `count` numbers, or a RateStoreUnavailableError. */
  async #run(script: RateScript, key: string, args: readonly number[], count: number): Promise<number[]> {
    if (!this.available()) {
      this.#options.onCommand?.('rejected', 0);
      throw SKIPPED;
    }
    const started = performance.now();
    const argv = args.map(String);
    try {
      const reply = await this.#breaker.fire(async () => numbers(await this.#eval(script, key, argv), count));
      this.#options.onCommand?.('ok', (performance.now() - started) / 1000);
      // opossum resolves with what the action resolved: the numbers above.
      return reply as number[];
    } catch (error) {
      const kind = failureKind(error);
      this.#options.onCommand?.(kind, (performance.now() - started) / 1000);
      if (kind === 'rejected') throw SKIPPED;
      throw new RateStoreUnavailableError(`Redis rate-limit command failed: ${String(error)}`, {
        cause: error,
      });
    }
  }

  /** EVALSHA, and EVAL once when this server has not seen the script (first use, restart, failover). */
  async #eval(script: RateScript, key: string, argv: readonly string[]): Promise<unknown> {
    try {
      return await this.#client.evalsha(script.sha, 1, key, ...argv);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return await this.#client.eval(script.lua, 1, key, ...argv);
    }
  }

  #update(reason: string): void {
    if (this.#closing) return;
    const state = this.state();
    if (state === this.#reported) return;
    this.#reported = state;
    this.#options.onStateChange?.(state, reason);
  }
}

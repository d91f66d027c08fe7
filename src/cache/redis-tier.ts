/**
 * The shared L2 cache tier: opaque Buffers in Redis (one server, Sentinel or Cluster) behind a
 * circuit breaker. It fails open: when Redis errors, is slow or the breaker is open, get() misses
 * and set()/delete() do nothing, so a sick Redis costs a request at most `command_timeout_ms`, and
 * almost nothing once the breaker has opened. What the Buffers hold is the entry codec's business.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, type Redis } from 'ioredis';
import CircuitBreaker from 'opossum';
import type { DeepReadonly } from '../config/freeze.ts';
import type { RedisConfig } from '../config/types.generated.ts';
import { connect, failureKind, planRedisConnection, type RedisConnectionPlan } from './redis-connection.ts';

/** `up`: in use; `down`: not connected (commands fail at once); `open`: the breaker skips Redis. */
export type RedisTierState = 'up' | 'down' | 'open';

/** `rejected`: skipped by the open breaker; `error` and `timeout` are disjoint. */
export type RedisTierEvent = 'hit' | 'miss' | 'set' | 'delete' | 'error' | 'timeout' | 'rejected';

export type RedisTierStats = Record<RedisTierEvent, number>;

/** The part of a pino logger the tier uses. */
export interface RedisTierLogger {
  warn(details: object, message: string): void;
  info(details: object, message: string): void;
}

export interface RedisTierOptions {
  /** Called once per command outcome, for metrics; must not throw. */
  readonly onEvent?: (event: RedisTierEvent, durationSeconds: number) => void;
  /** How long an open breaker skips Redis before one request probes it. Default 5 s. */
  readonly resetTimeoutMs?: number;
}

/** Keys per SCAN step and per UNLINK round trip during a purge. */
const SCAN_COUNT = 500;

/**
 * `route:tenant:digest` is stored as `prefix:route:tenant:{digest}`. Redis Cluster hashes only the
 * text between the first `{` and the next `}`, so an entry and any companion key built the same way
 * (a cross-replica single-flight lock `…:{digest}:lock`) live in one slot and can be used together in
 * one MULTI or Lua script. Tagging the digest, not the route or tenant, still spreads a busy route's
 * entries over every slot. The key module guarantees no part contains a brace.
 */
export function redisKey(prefix: string, key: string): string {
  const digestStart = key.lastIndexOf(':') + 1;
  return `${prefix}:${key.slice(0, digestStart)}{${key.slice(digestStart)}}`;
}

/** SCAN MATCH treats `*?[]\` as a pattern; a purge prefix is literal text. */
function globLiteral(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

// Built once and rethrown: an open breaker costs no allocation, stack trace or timer per request.
const SKIPPED = new Error('the Redis L2 breaker is open');

type Breaker = CircuitBreaker<[() => Promise<unknown>], unknown>;
type BreakerState = 'closed' | 'open' | 'half-open';

interface BreakerLine {
  /** Logged only when the last line was about one of these states: a failed probe is not news. */
  readonly after: readonly BreakerState[];
  readonly level: 'warn' | 'info';
  readonly message: string;
}

const BREAKER_LINES: Record<BreakerState, BreakerLine> = {
  open: { after: ['closed'], level: 'warn', message: 'Redis L2 breaker open: skipping L2 until it recovers' },
  'half-open': { after: ['open'], level: 'info', message: 'Redis L2 breaker half-open: probing Redis' },
  closed: {
    after: ['open', 'half-open'],
    level: 'info',
    message: 'Redis L2 breaker closed: using L2 again',
  },
};

export class RedisTier {
  private readonly client: Redis | Cluster;
  private readonly breaker: Breaker;
  private readonly mode: RedisConnectionPlan['mode'];
  private readonly keyPrefix: string;
  private readonly commandTimeoutMs: number;
  private readonly counters: RedisTierStats = {
    hit: 0,
    miss: 0,
    set: 0,
    delete: 0,
    error: 0,
    timeout: 0,
    rejected: 0,
  };
  /** Undefined until the first connection attempt ends, so the first outcome is logged too. */
  private connected: boolean | undefined;
  private lastConnectionError: string | undefined;
  private breakerLogged: BreakerState = 'closed';
  private closing = false;
  private readonly logger: RedisTierLogger;
  private readonly options: RedisTierOptions;

  constructor(config: DeepReadonly<RedisConfig>, logger: RedisTierLogger, options: RedisTierOptions = {}) {
    this.logger = logger;
    this.options = options;
    const plan = planRedisConnection(config);
    this.mode = plan.mode;
    this.keyPrefix = config.key_prefix;
    this.commandTimeoutMs = config.command_timeout_ms;
    this.breaker = new CircuitBreaker((command: () => Promise<unknown>) => command(), {
      name: 'redis-l2',
      // A timer per call, like ioredis' commandTimeout, and no shared AbortController: one
      // command timing out must not abort the others in flight. It also bounds what ioredis'
      // timeout does not cover: Cluster redirections and failover retries.
      timeout: config.command_timeout_ms,
      errorThresholdPercentage: 50,
      volumeThreshold: 5,
      resetTimeout: options.resetTimeoutMs ?? 5000,
      enableSnapshots: false,
    });
    this.breaker.on('open', () => this.logBreaker('open'));
    this.breaker.on('halfOpen', () => this.logBreaker('half-open'));
    this.breaker.on('close', () => this.logBreaker('closed'));
    this.client = connect(plan);
    this.client.on('ready', () => this.onReady());
    this.client.on('error', (error: Error) => {
      this.lastConnectionError = error.message;
    });
    this.client.on('close', () => this.onConnectionLost());
  }

  state(): RedisTierState {
    if (!this.breaker.closed) return 'open';
    return this.connected === true ? 'up' : 'down';
  }

  stats(): RedisTierStats {
    return { ...this.counters };
  }

  async get(key: string): Promise<Buffer | undefined> {
    const started = performance.now();
    try {
      const value = await this.attempt(() => this.client.getBuffer(redisKey(this.keyPrefix, key)));
      this.record(value === null ? 'miss' : 'hit', started);
      return value ?? undefined;
    } catch {
      return undefined;
    }
  }

  /** Stores `value` for `ttlMs`; Redis expires it, so no stale entry outlives its TTL there. */
  async set(key: string, value: Buffer, ttlMs: number): Promise<void> {
    if (!(ttlMs > 0)) return;
    const started = performance.now();
    const milliseconds = Math.ceil(ttlMs);
    try {
      await this.attempt(() => this.client.set(redisKey(this.keyPrefix, key), value, 'PX', milliseconds));
      this.record('set', started);
    } catch {
      // Fail open: the answer is still served and kept in L1.
    }
  }

  async delete(key: string): Promise<void> {
    const started = performance.now();
    try {
      await this.attempt(() => this.client.unlink(redisKey(this.keyPrefix, key)));
      this.record('delete', started);
    } catch {
      // Fail open: the entry expires by its TTL.
    }
  }

  /** The Redis key of cache key `key`; a companion key appends `:suffix` to it and shares its Cluster slot. */
  keyOf(key: string): string {
    return redisKey(this.keyPrefix, key);
  }

  /**
   * A Lua script on keys of one Cluster slot (keyOf() and its companions), bulk replies as Buffers.
   * Rejects when Redis fails. `outcome` names the reply for the metrics: scripts only ever read or
   * write or delete, like the commands the tier already counts.
   */
  async script(
    lua: string,
    keys: readonly string[],
    args: readonly string[],
    outcome: (reply: unknown) => 'hit' | 'miss' | 'set' | 'delete',
  ): Promise<unknown> {
    const started = performance.now();
    const reply = await this.attempt(() =>
      this.client.callBuffer('EVAL', lua, keys.length, ...keys, ...args),
    );
    this.record(outcome(reply), started);
    return reply;
  }

  /**
   * Removes every entry whose cache key starts with `prefix` (`route:`, `route:tenant:`, or `` for
   * all of this deployment's keys) and returns how many went. Unlike the request path this rejects
   * when Redis fails, so an admin purge never reports a success it did not have.
   */
  async purge(prefix: string): Promise<number> {
    const pattern = `${globLiteral(this.keyPrefix)}:${globLiteral(prefix)}*`;
    // Each Cluster master holds its own keyspace; replicas only copy it.
    const nodes = this.client instanceof Cluster ? this.client.nodes('master') : [this.client];
    let removed = 0;
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await this.attempt(() =>
          node.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT),
        );
        cursor = next;
        if (keys.length > 0) removed += await this.attempt(() => unlinkEach(node, keys));
      } while (cursor !== '0');
    }
    return removed;
  }

  /** Lets in-flight writes finish, but never waits on a dead or slow Redis for long. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.breaker.shutdown();
    const quit = this.client.quit().catch(() => undefined);
    await Promise.race([quit, sleep(this.commandTimeoutMs * 5, undefined, { ref: false })]);
    this.client.disconnect();
  }

  /** Runs one command through the breaker; a failure is counted and rethrown. */
  private async attempt<T>(command: () => Promise<T>): Promise<T> {
    if (this.closing || this.breaker.opened) {
      this.counters.rejected += 1;
      this.options.onEvent?.('rejected', 0);
      throw SKIPPED;
    }
    const started = performance.now();
    try {
      // opossum resolves with what the action resolved, and the action is `command` itself.
      return (await this.breaker.fire(command)) as T;
    } catch (error) {
      this.record(failureKind(error), started);
      throw error;
    }
  }

  private record(event: RedisTierEvent, started: number): void {
    this.counters[event] += 1;
    this.options.onEvent?.(event, (performance.now() - started) / 1000);
  }

  private onReady(): void {
    if (this.connected !== true && !this.closing) {
      this.logger.info({ redis: this.mode }, 'Redis L2 cache connected');
    }
    this.connected = true;
    this.lastConnectionError = undefined;
    // A fresh connection that passed its ready check is better evidence than a probe request,
    // and comes without traffic: L2 is back in use at once.
    if (!this.breaker.closed && !this.closing) this.breaker.close();
  }

  private onConnectionLost(): void {
    if (this.connected !== false && !this.closing) {
      this.logger.warn(
        { redis: this.mode, error: this.lastConnectionError ?? 'connection closed' },
        'Redis L2 cache unreachable; requests go on without it and it reconnects by itself',
      );
    }
    this.connected = false;
  }

  private logBreaker(state: BreakerState): void {
    const line = BREAKER_LINES[state];
    if (this.closing || !line.after.some((previous) => previous === this.breakerLogged)) return;
    this.breakerLogged = state;
    this.logger[line.level]({ redis: this.mode }, line.message);
  }
}

/**
 * One UNLINK per key in one pipeline: a single round trip, and valid on a Cluster node, where one
 * multi-key UNLINK would fail with CROSSSLOT for keys of different slots.
 */
async function unlinkEach(node: Redis, keys: readonly string[]): Promise<number> {
  const pipeline = node.pipeline();
  for (const key of keys) pipeline.unlink(key);
  const replies = (await pipeline.exec()) ?? [];
  return replies.reduce(
    (sum, [error, count]) => sum + (error === null && typeof count === 'number' ? count : 0),
    0,
  );
}

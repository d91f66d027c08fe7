/**
 * The Redis twins of rate-algorithms.ts: each script is one atomic read-modify-write of one hash
 * (one key, so one Cluster slot), with the same floating-point operations in the same order as
 * the TypeScript, so both stores reach bit-identical states. Doubles travel as `%.17g` text, which
 * converts back to the identical double; Redis' own number-to-reply conversion would truncate
 * them to integers.
 *
 * The clock is the Redis server's (TIME), so replicas whose clocks disagree still agree on every
 * decision. A non-empty last argument replaces it: only the conformance test passes one, to run a
 * script and its TypeScript twin at the same instants.
 *
 * Hash fields: token bucket `t` (tokens) and `u` (updated at); sliding window `s` (window
 * start), `c` (current count), `p` (previous count). The key expires when its state has refilled
 * or slid out, so an idle client leaves nothing behind.
 */
import { createHash } from 'node:crypto';

export interface RateScript {
  readonly lua: string;
  readonly sha: string;
}

const PRELUDE = `
local function num(x) return string.format('%.17g', x) end
local function clock(arg)
  if arg ~= nil and arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end
-- Printed as a plain integer by Redis' number formatting; a debt so deep it would need longer is forgotten then.
local function keep(key, ms)
  redis.call('PEXPIRE', key, math.min(1e12, math.max(1, ms)))
end
`;

const BUCKET = `${PRELUDE}
local key = KEYS[1]
local limit, window, capacity, units = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local now = clock(ARGV[5])
local tokens = capacity
local saved = redis.call('HMGET', key, 't', 'u')
if saved[1] and saved[2] then
  local elapsed = math.max(0, now - tonumber(saved[2]))
  tokens = math.min(capacity, tonumber(saved[1]) + elapsed * limit / window)
end
local function save()
  local missing = capacity - tokens
  if missing > 0 then
    redis.call('HSET', key, 't', num(tokens), 'u', num(now))
    keep(key, math.ceil(missing * window / limit))
  else
    redis.call('DEL', key)
  end
end
`;

const WINDOW = `${PRELUDE}
local key = KEYS[1]
local limit, window, units = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now = clock(ARGV[4])
local start = math.floor(now / window) * window
local current, previous = 0, 0
local saved = redis.call('HMGET', key, 's', 'c', 'p')
if saved[1] and saved[2] and saved[3] then
  local savedStart = tonumber(saved[1])
  if savedStart >= start then
    start, current, previous = savedStart, tonumber(saved[2]), tonumber(saved[3])
  elseif savedStart + window == start then
    previous = tonumber(saved[2])
  end
end
local function save()
  if current > 0 then
    redis.call('HSET', key, 's', num(start), 'c', num(current), 'p', num(previous))
    keep(key, math.ceil(start + 2 * window - now))
  elseif previous > 0 then
    redis.call('HSET', key, 's', num(start), 'c', num(current), 'p', num(previous))
    keep(key, math.ceil(start + window - now))
  else
    redis.call('DEL', key)
  end
end
`;

function script(lua: string): RateScript {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/** KEYS[1]; ARGV limit, windowMs, capacity, cost[, now] → {allowed 0|1, tokens, now}. */
export const BUCKET_TAKE = script(`${BUCKET}
local allowed = 0
if not (units > tokens) then
  allowed = 1
  tokens = tokens - units
  save()
end
return {allowed, num(tokens), num(now)}
`);

/** KEYS[1]; ARGV limit, windowMs, capacity, delta[, now] → {tokens, now}. */
export const BUCKET_ADJUST = script(`${BUCKET}
tokens = math.min(capacity, tokens - units)
save()
return {num(tokens), num(now)}
`);

/** KEYS[1]; ARGV limit, windowMs, cost[, now] → {allowed 0|1, start, current, previous, now}. */
export const WINDOW_TAKE = script(`${WINDOW}
local weight = math.min(1, math.max(0, (window - (now - start)) / window))
local allowed = 0
if not (previous * weight + current + units > limit) then
  allowed = 1
  current = current + units
  save()
end
return {allowed, num(start), num(current), num(previous), num(now)}
`);

/** KEYS[1]; ARGV limit, windowMs, delta[, now] → {start, current, previous, now}. */
export const WINDOW_ADJUST = script(`${WINDOW}
current = current + units
if current < 0 then
  previous = math.max(0, previous + current)
  current = 0
end
save()
return {num(start), num(current), num(previous), num(now)}
`);

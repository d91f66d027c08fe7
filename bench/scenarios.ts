/** What the benchmark measures (scenarios, targets) and how long: the command-line options. */
import { parseArgs } from 'node:util';
import { exampleConfig } from './sluice-config.ts';

export type TargetName = 'direct' | 'bare' | 'sluice' | 'sluice-noacct';
/** `sluice-noacct` is Sluice with `llm.accounting: false`, for the cost of LLM accounting; opt-in. */
export const allTargets: readonly TargetName[] = ['direct', 'bare', 'sluice', 'sluice-noacct'];
const defaultTargets: readonly TargetName[] = ['direct', 'bare', 'sluice'];

export interface Scenario {
  readonly name: string;
  readonly title: string;
  readonly connections: number;
  readonly stream: boolean;
  /** Ask for `stream_options.include_usage`, so the stream ends with a usage chunk to account. */
  readonly includeUsage?: boolean;
  /** Per-request mock behaviour (`x-mock-*` headers), forwarded unchanged by both proxies. */
  readonly mockHeaders: Readonly<Record<string, string>>;
  /**
   * Send `temperature: 0`, which the example config caches: after the first request every answer
   * comes from Sluice's L1 tier, and the report compares Sluice with the mock itself (direct).
   */
  readonly cacheHit?: boolean;
}

export const allScenarios: readonly Scenario[] = [
  { name: 'json', title: 'chat completion, JSON', connections: 50, stream: false, mockHeaders: {} },
  {
    name: 'sse',
    title: 'chat completion, SSE (16 events, 1 ms apart)',
    connections: 50,
    stream: true,
    mockHeaders: { 'x-mock-tokens': '16', 'x-mock-gap-ms': '1' },
  },
  {
    name: 'sse-usage',
    title: 'chat completion, SSE with include_usage (16 events, 1 ms apart, then usage)',
    connections: 50,
    stream: true,
    includeUsage: true,
    mockHeaders: { 'x-mock-tokens': '16', 'x-mock-gap-ms': '1' },
  },
  {
    name: 'sse-light',
    title:
      'chat completion, SSE with include_usage, 8 connections: CPU per request without saturating the machine',
    connections: 8,
    stream: true,
    includeUsage: true,
    mockHeaders: { 'x-mock-tokens': '16', 'x-mock-gap-ms': '1' },
  },
  {
    name: 'sse1',
    title: 'chat completion, SSE, one connection: time to first event without queueing',
    connections: 1,
    stream: true,
    mockHeaders: { 'x-mock-tokens': '16', 'x-mock-gap-ms': '1' },
  },
  {
    name: 'json-hit',
    title: 'chat completion, JSON, answered from the cache (temperature 0)',
    connections: 50,
    stream: false,
    cacheHit: true,
    mockHeaders: {},
  },
  {
    name: 'sse-hit',
    title: 'chat completion, SSE (16 events, 1 ms apart upstream), answered from the cache',
    connections: 50,
    stream: true,
    cacheHit: true,
    mockHeaders: { 'x-mock-tokens': '16', 'x-mock-gap-ms': '1' },
  },
  {
    name: 'latency50',
    title: 'chat completion, JSON, 50 ms upstream latency',
    connections: 200,
    stream: false,
    mockHeaders: { 'x-mock-latency-ms': '50' },
  },
];

export function requestBody(scenario: Scenario): string {
  return JSON.stringify({
    model: 'gpt-4o-mini',
    messages: [
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: 'Write a haiku about a reverse proxy.' },
    ],
    ...(scenario.stream ? { stream: true } : {}),
    ...(scenario.cacheHit ? { temperature: 0 } : {}),
    ...(scenario.includeUsage ? { stream_options: { include_usage: true } } : {}),
  });
}

export function requestHeaders(scenario: Scenario): Record<string, string> {
  return {
    'content-type': 'application/json',
    authorization: 'Bearer sk-bench-not-a-real-key',
    ...scenario.mockHeaders,
  };
}

export interface BenchOptions {
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly rounds: number;
  readonly scenarios: readonly Scenario[];
  readonly targets: readonly TargetName[];
  /** Run both proxies under `node --cpu-prof`; the profiles land in bench/results/. */
  readonly cpuProf: boolean;
  readonly config: string;
  /** undici API of the bare forwarder: `stream` (the reference) or `request` + stream.pipeline. */
  readonly bareApi: 'stream' | 'request';
}

export const usage = `Usage: node bench/run.ts [options]
  --quick              ~1 min smoke run (3 s cells, 1 s warm-up, 1 round)
  --duration-s N       measured seconds per cell (default 10)
  --warmup-s N         warm-up seconds per cell, not measured (default 2)
  --rounds N           repeat every cell N times; the table shows medians (default 2)
  --scenarios a,b      subset of: ${allScenarios.map((s) => s.name).join(', ')}
  --targets a,b        subset of: ${allTargets.join(', ')}
                       (default ${defaultTargets.join(',')}; sluice-noacct runs Sluice with
                       llm.accounting off, and the report adds the accounting CPU ratio)
  --config FILE        Sluice config to derive from (default ${exampleConfig})
  --bare-api API       bare forwarder on undici pool.stream (default) or request + pipeline
  --cpu-prof           run both proxies under node --cpu-prof; summarize the
                       profiles with node bench/profile-summary.ts FILE`;

function positive(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!(Number.isFinite(parsed) && parsed > 0))
    throw new Error(`--${flag} must be a positive number, got "${value}"`);
  return parsed;
}

function subset<T>(
  value: string | undefined,
  all: readonly T[],
  nameOf: (item: T) => string,
  flag: string,
  fallback: readonly T[] = all,
): T[] {
  if (value === undefined) return [...fallback];
  return value.split(',').map((name) => {
    const found = all.find((item) => nameOf(item) === name.trim());
    if (found === undefined)
      throw new Error(`--${flag}: unknown "${name}" (known: ${all.map(nameOf).join(', ')})`);
    return found;
  });
}

export function parseBenchOptions(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      'duration-s': { type: 'string' },
      'warmup-s': { type: 'string' },
      rounds: { type: 'string' },
      scenarios: { type: 'string' },
      targets: { type: 'string' },
      config: { type: 'string', default: exampleConfig },
      'cpu-prof': { type: 'boolean', default: false },
      'bare-api': { type: 'string', default: 'stream' },
    },
  });
  const quick = values.quick === true;
  const bareApi = values['bare-api'];
  if (bareApi !== 'stream' && bareApi !== 'request')
    throw new Error(`--bare-api must be stream or request, got "${bareApi}"`);
  return {
    durationMs: positive(values['duration-s'], 'duration-s', quick ? 3 : 10) * 1000,
    warmupMs: positive(values['warmup-s'], 'warmup-s', quick ? 1 : 2) * 1000,
    rounds: Math.round(positive(values.rounds, 'rounds', quick ? 1 : 2)),
    scenarios: subset(values.scenarios, allScenarios, (s) => s.name, 'scenarios'),
    targets: subset(values.targets, allTargets, (t) => t, 'targets', defaultTargets),
    cpuProf: values['cpu-prof'] === true,
    config: values.config ?? exampleConfig,
    bareApi,
  };
}

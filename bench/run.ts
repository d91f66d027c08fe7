/**
 * The benchmark: the mock LLM reached directly, through a bare node:http + undici forwarder, and
 * through Sluice (example config, telemetry on), side by side in one run. Each process is a child of
 * this one; the load generator too. Prints a markdown table; writes bench/results/<timestamp>.json.
 *
 *   node bench/run.ts [--quick] [--duration-s 10] [--rounds 2] [--cpu-prof]   (--help for all)
 */
import { execFileSync, fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { killOnExit, type RunningChild, startChild, stopChild } from './children.ts';
import type { LoadPlan, LoadResult } from './load.ts';
import {
  type CellRecord,
  compare,
  compareAccounting,
  compareCacheHits,
  markdownAccounting,
  markdownCacheHits,
  markdownComparisons,
  markdownTable,
  summarize,
} from './report.ts';
import {
  type BenchOptions,
  parseBenchOptions,
  requestBody,
  requestHeaders,
  type Scenario,
  type TargetName,
  usage,
} from './scenarios.ts';
import { benchEnv, freePorts, writeBenchConfig } from './sluice-config.ts';

const benchDir = import.meta.dirname;
const resultsDir = path.join(benchDir, 'results');
/** Quiet time between cells: sockets of the last cell close, timers settle. */
const PAUSE_MS = 1000;
const runStamp = new Date().toISOString().replace(/[:.]/g, '-');

interface Target {
  readonly name: TargetName;
  readonly origin: string;
  readonly pid: number | undefined;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function runCell(plan: LoadPlan): Promise<LoadResult> {
  const child = fork(path.join(benchDir, 'load.ts'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  killOnExit(child);
  const limitMs = plan.warmupMs + plan.durationMs + 20_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
      reject(new Error(`load generator did not report within ${limitMs} ms`));
    }, limitMs);
    child.once('message', (message: { result?: LoadResult; error?: string }) => {
      clearTimeout(timer);
      if (message.result) resolve(message.result);
      else reject(new Error(`load generator failed: ${message.error}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`load generator exited with code ${code}`));
    });
    child.send(plan);
  });
}

function machine() {
  const git = (...args: string[]) => {
    try {
      return execFileSync('git', args, { encoding: 'utf8' }).trim();
    } catch {
      return 'unknown';
    }
  };
  return {
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version,
    commit: git('rev-parse', '--short', 'HEAD'),
    worktreeDirty: git('status', '--porcelain') !== '',
  };
}

/** Both proxies are profiled when asked, so each pays the profiler's overhead alike. */
function profileFlags(options: BenchOptions, name: TargetName): string[] {
  if (!options.cpuProf) return [];
  return ['--cpu-prof', '--cpu-prof-dir', resultsDir, '--cpu-prof-name', `${name}-${runStamp}.cpuprofile`];
}

async function startTargets(options: BenchOptions, scratch: string) {
  const node = (file: string) => path.relative(process.cwd(), path.join(benchDir, '..', file));
  const mock = await startChild({
    name: 'mock-llm',
    args: [node('cmd/sluice.ts'), 'mock-llm', '--port', '0'],
    readyMsg: 'mock-llm listening',
  });
  const mockUrl = String(mock.ready['url']);
  const children: RunningChild[] = [mock];
  const targets: Target[] = [{ name: 'direct', origin: mockUrl, pid: undefined }];
  if (options.targets.includes('bare')) {
    const bare = await startChild({
      name: 'bare-forwarder',
      args: [
        ...profileFlags(options, 'bare'),
        node('bench/bare-forwarder.ts'),
        '--upstream',
        mockUrl,
        '--connections',
        '128',
        '--api',
        options.bareApi,
      ],
      readyMsg: 'bare-forwarder listening',
    });
    children.push(bare);
    targets.push({ name: 'bare', origin: String(bare.ready['url']), pid: bare.pid });
  }
  const sluiceLogs: string[] = [];
  for (const name of ['sluice', 'sluice-noacct'] as const) {
    if (!options.targets.includes(name)) continue;
    const config = path.join(scratch, `${name}-bench.yaml`);
    const log = path.join(scratch, `${name}-stdout.log`);
    const [proxy = 0, admin = 0] = await freePorts(2);
    const ports = { proxy, admin };
    await writeBenchConfig(options.config, mockUrl, ports, config, name === 'sluice');
    const sluice = await startChild({
      name,
      args: [...profileFlags(options, name), node('cmd/sluice.ts'), 'serve', '--config', config],
      readyProbe: async () => {
        const response = await fetch(`http://127.0.0.1:${ports.admin}/readyz`);
        await response.arrayBuffer();
        return response.status === 200;
      },
      env: benchEnv(),
      stdoutFile: log,
    });
    children.push(sluice);
    sluiceLogs.push(log);
    targets.push({ name, origin: `http://127.0.0.1:${ports.proxy}`, pid: sluice.pid });
  }
  return { mock, children, sluiceLogs, targets: targets.filter((t) => options.targets.includes(t.name)) };
}

async function main(): Promise<void> {
  if (process.argv.includes('--help')) return void console.log(usage);
  const options = parseBenchOptions(process.argv.slice(2));
  const cellCount = options.rounds * options.scenarios.length * options.targets.length;
  const budgetMs = cellCount * (options.warmupMs + options.durationMs + PAUSE_MS + 1500) + 30_000;
  console.error(`sluice bench: ${cellCount} cells, about ${Math.ceil(budgetMs / 1000)} s`);
  const limitMs = budgetMs * 1.5 + 60_000;
  const deadline = setTimeout(() => {
    console.error(`sluice bench: still running after ${Math.ceil(limitMs / 1000)} s; giving up.`);
    process.exit(2);
  }, limitMs);
  deadline.unref();

  mkdirSync(resultsDir, { recursive: true });
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-'));
  process.once('exit', () => rmSync(scratch, { recursive: true, force: true }));
  const { mock, children, sluiceLogs, targets } = await startTargets(options, scratch);
  const cells: CellRecord[] = [];
  try {
    for (let round = 1; round <= options.rounds; round++) {
      for (const scenario of options.scenarios) {
        // Alternate the order every round, so a drift in the machine's load does not favour one target.
        const ordered = round % 2 === 1 ? targets : [...targets].reverse();
        for (const target of ordered) cells.push(await measure(round, scenario, target, options, mock.pid));
        // Access logs of a long run would fill the scratch disk.
        for (const log of sluiceLogs) truncateSync(log, 0);
      }
    }
  } finally {
    for (const child of children.reverse()) await stopChild(child);
  }

  const rows = summarize(cells, options.scenarios, options.targets);
  const comparisons = compare(rows, cells, options.scenarios);
  const accounting = compareAccounting(cells, options.scenarios);
  const cacheHits = compareCacheHits(cells, options.scenarios);
  const file = path.join(resultsDir, `${runStamp}.json`);
  const { scenarios, ...rest } = options;
  const record = {
    machine: machine(),
    options: { ...rest, scenarios },
    rows,
    comparisons,
    accounting,
    cacheHits,
    cells,
  };
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  console.log(`${markdownTable(rows)}\n\n${markdownComparisons(comparisons)}\n`);
  if (accounting.length > 0) console.log(`${markdownAccounting(accounting)}\n`);
  if (cacheHits.length > 0) console.log(`${markdownCacheHits(cacheHits)}\n`);
  console.error(`sluice bench: results in ${path.relative(process.cwd(), file)}`);
}

async function measure(
  round: number,
  scenario: Scenario,
  target: Target,
  options: BenchOptions,
  mockPid: number,
): Promise<CellRecord> {
  await sleep(PAUSE_MS);
  const result = await runCell({
    origin: target.origin,
    path: '/v1/chat/completions',
    headers: requestHeaders(scenario),
    body: requestBody(scenario),
    stream: scenario.stream,
    connections: scenario.connections,
    warmupMs: options.warmupMs,
    durationMs: options.durationMs,
    proxyPid: target.pid,
    mockPid,
  });
  const rps = ((result.requests * 1000) / result.windowMs).toFixed(0);
  const cpu =
    result.proxyCpuMicros === undefined ? 'n/a' : (result.proxyCpuMicros / result.requests).toFixed(0);
  console.error(
    `  round ${round} ${scenario.name.padEnd(9)} ${target.name.padEnd(13)} ${rps.padStart(6)} req/s  ` +
      `p99 ${result.latencyMs.p99.toFixed(1)} ms  cpu ${cpu} µs/req  errors ${result.errors}  ` +
      `machine busy ${(result.machine.busyMicros / 1000 / result.windowMs).toFixed(2)} cores`,
  );
  if (result.errorSamples.length > 0) console.error(`    e.g. ${result.errorSamples.join('; ')}`);
  return { round, scenario: scenario.name, target: target.name, result };
}

await main();

/**
 * The load generator, run as its own child process (fork) so its CPU is not charged to the proxy.
 * N connections, N loops each sending requests back to back: a warm-up, then a measured window at
 * whose edges it reads the proxy's and the mock's CPU from /proc itself (no IPC delay in between).
 * Receives a LoadPlan as its first IPC message and answers with one LoadResult.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import {
  cpuMicros,
  type MachineCpu,
  type MemorySample,
  machineCpu,
  memory,
  resetPeakRss,
} from './proc-stats.ts';

export interface LoadPlan {
  /** Origin of the target, `http://127.0.0.1:PORT`. */
  readonly origin: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** SSE: measure time to the first `data:` event and require the final `data: [DONE]`. */
  readonly stream: boolean;
  readonly connections: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** The process whose CPU and memory the cell reports (absent when the target is the mock itself). */
  readonly proxyPid: number | undefined;
  readonly mockPid: number;
}

export interface Percentiles {
  readonly p50: number;
  readonly p99: number;
}

export interface LoadResult {
  /** Requests that completed successfully inside the measured window. */
  readonly requests: number;
  /** ...and in all phases, warm-up and drain included. */
  readonly allRequests: number;
  /** Failed requests (status, transport error, truncated stream) in the window / during warm-up. */
  readonly errors: number;
  readonly warmupErrors: number;
  readonly errorSamples: readonly string[];
  readonly windowMs: number;
  readonly latencyMs: Percentiles;
  /** Time from sending the request to the first `data:` bytes (streaming plans only). */
  readonly ttfeMs: Percentiles | undefined;
  readonly proxyCpuMicros: number | undefined;
  readonly proxyMemory: MemorySample | undefined;
  readonly peakResetWorked: boolean;
  readonly mockCpuMicros: number;
  /** This generator's own CPU during the window, to show what it took from the shared cores. */
  readonly loadCpuMicros: number;
  /** The whole machine's CPU during the window: what everything else (other users) took is the rest. */
  readonly machine: MachineCpu;
}

const DATA = Buffer.from('data:');
const DONE = Buffer.from('data: [DONE]');
/** After the window closes, requests still in flight get this long before the pool is destroyed. */
const DRAIN_MS = 5000;
/** A failing target must not turn the loops into a busy spin. */
const ERROR_BACKOFF_MS = 10;

interface Window {
  start: number;
  end: number;
  stopped: boolean;
}

class Recorder {
  latencies: number[] = [];
  /** Successful requests in all phases (warm-up and drain too): what a whole-life profile covers. */
  completed = 0;
  ttfes: number[] = [];
  errors = 0;
  warmupErrors = 0;
  samples: string[] = [];
  private readonly window: Window;

  constructor(window: Window) {
    this.window = window;
  }

  ok(sent: number, firstEvent: number | undefined): void {
    const now = performance.now();
    this.completed++;
    if (!this.inWindow(now)) return;
    this.latencies.push(now - sent);
    if (firstEvent !== undefined) this.ttfes.push(firstEvent - sent);
  }

  failed(reason: string): void {
    if (this.inWindow(performance.now())) this.errors++;
    else if (this.window.start === 0) this.warmupErrors++;
    if (this.samples.length < 5) this.samples.push(reason);
  }

  private inWindow(now: number): boolean {
    return (
      this.window.start > 0 && now >= this.window.start && (this.window.end === 0 || now <= this.window.end)
    );
  }
}

export function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { p50: Number.NaN, p99: Number.NaN };
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99) };
}

/** One request: resolves the time of the first `data:` bytes (streams) or undefined; throws on failure. */
async function exchange(pool: Pool, plan: LoadPlan): Promise<number | undefined> {
  const { statusCode, body } = await pool.request({
    path: plan.path,
    method: 'POST',
    headers: plan.headers,
    body: plan.body,
  });
  let firstEvent: number | undefined;
  let head: Buffer = Buffer.alloc(0);
  let tail: Buffer = Buffer.alloc(0);
  let bytes = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (!plan.stream) continue;
    if (firstEvent === undefined) {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      if (head.includes(DATA)) firstEvent = performance.now();
    }
    tail = Buffer.concat([tail, chunk]).subarray(-64);
  }
  if (statusCode !== 200) throw new Error(`status ${statusCode}`);
  if (bytes === 0) throw new Error('empty body');
  if (plan.stream && !tail.includes(DONE)) throw new Error('stream ended without data: [DONE]');
  return firstEvent;
}

async function loop(pool: Pool, plan: LoadPlan, window: Window, recorder: Recorder): Promise<void> {
  while (!window.stopped) {
    const sent = performance.now();
    try {
      recorder.ok(sent, await exchange(pool, plan));
    } catch (error) {
      recorder.failed(error instanceof Error ? error.message : String(error));
      await new Promise((resolve) => setTimeout(resolve, ERROR_BACKOFF_MS));
    }
  }
}

function cpuOrUndefined(pid: number | undefined): number | undefined {
  return pid === undefined ? undefined : cpuMicros(pid);
}

export async function runLoad(plan: LoadPlan): Promise<LoadResult> {
  const pool = new Pool(plan.origin, {
    connections: plan.connections,
    pipelining: 1,
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
  const window: Window = { start: 0, end: 0, stopped: false };
  const recorder = new Recorder(window);
  const peakResetWorked = plan.proxyPid === undefined || resetPeakRss(plan.proxyPid);
  const loops = Array.from({ length: plan.connections }, () => loop(pool, plan, window, recorder));

  await new Promise((resolve) => setTimeout(resolve, plan.warmupMs));
  const proxyCpuBefore = cpuOrUndefined(plan.proxyPid);
  const mockCpuBefore = cpuMicros(plan.mockPid);
  const loadCpuBefore = process.cpuUsage();
  const machineBefore = machineCpu();
  window.start = performance.now();

  await new Promise((resolve) => setTimeout(resolve, plan.durationMs));
  window.end = performance.now();
  window.stopped = true;
  const proxyCpuAfter = cpuOrUndefined(plan.proxyPid);
  const mockCpuAfter = cpuMicros(plan.mockPid);
  const loadCpu = process.cpuUsage(loadCpuBefore);
  const machineAfter = machineCpu();
  const proxyMemory = plan.proxyPid === undefined ? undefined : memory(plan.proxyPid);

  const drained = await Promise.race([
    Promise.all(loops).then(() => true),
    new Promise<boolean>((resolve) => setTimeout(resolve, DRAIN_MS, false).unref()),
  ]);
  if (drained) await pool.close();
  else await pool.destroy();

  return {
    requests: recorder.latencies.length,
    allRequests: recorder.completed,
    errors: recorder.errors,
    warmupErrors: recorder.warmupErrors,
    errorSamples: recorder.samples,
    windowMs: window.end - window.start,
    latencyMs: percentiles(recorder.latencies),
    ttfeMs: plan.stream ? percentiles(recorder.ttfes) : undefined,
    proxyCpuMicros:
      proxyCpuBefore === undefined || proxyCpuAfter === undefined
        ? undefined
        : proxyCpuAfter - proxyCpuBefore,
    proxyMemory,
    peakResetWorked,
    mockCpuMicros: mockCpuAfter - mockCpuBefore,
    loadCpuMicros: loadCpu.user + loadCpu.system,
    machine: {
      busyMicros: machineAfter.busyMicros - machineBefore.busyMicros,
      stealMicros: machineAfter.stealMicros - machineBefore.stealMicros,
    },
  };
}

if (import.meta.main) {
  process.once('message', (plan: LoadPlan) => {
    runLoad(plan).then(
      (result) => process.send?.({ result }, () => process.exit(0)),
      (error: unknown) => process.send?.({ error: String(error) }, () => process.exit(1)),
    );
  });
}

/**
 * The benchmark's long-lived child processes (mock, bare forwarder, Sluice): start one, wait until
 * it is ready (a JSON line it logs, or a probe), stop it by PID. Every child started here is stopped on exit.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

export interface RunningChild {
  readonly name: string;
  readonly pid: number;
  /** The JSON line the child logged when it was ready. */
  readonly ready: Record<string, unknown>;
  readonly process: ChildProcess;
}

export interface ChildSpec {
  readonly name: string;
  readonly args: readonly string[];
  /** The `msg` of the JSON line on stdout that says the child is ready... */
  readonly readyMsg?: string;
  /** ...or a probe polled every 50 ms until it resolves true (for children that buffer stdout). */
  readonly readyProbe?: () => Promise<boolean>;
  readonly env?: NodeJS.ProcessEnv;
  /** Send stdout to this file instead of a pipe (with readyProbe). */
  readonly stdoutFile?: string;
  readonly timeoutMs?: number;
}

const started = new Set<ChildProcess>();
// Ctrl-C or a kill of this process must not leave the children running: exit, so 'exit' runs.
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));
process.once('exit', () => {
  for (const child of started)
    if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
});

/** Makes this process kill `child` if it exits first (the load generator's children are forked elsewhere). */
export function killOnExit(child: ChildProcess): void {
  started.add(child);
  child.once('exit', () => started.delete(child));
}

function readyLine(text: string, msg: string): Record<string, unknown> | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      if (parsed['msg'] === msg) return parsed;
    } catch {
      // A partial line: read it again on the next poll.
    }
  }
  return undefined;
}

function watchPipe(child: ChildProcess, msg: string, onReady: (line: Record<string, unknown>) => void): void {
  if (!child.stdout) return;
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    const ready = readyLine(line, msg);
    if (!ready) return;
    onReady(ready);
    lines.close();
    child.stdout?.resume();
  });
}

function watchProbe(
  probe: () => Promise<boolean>,
  onReady: (line: Record<string, unknown>) => void,
): () => void {
  let stopped = false;
  const poll = async () => {
    const ready = await probe().catch(() => false);
    if (stopped) return;
    if (ready) onReady({});
    else setTimeout(poll, 50);
  };
  void poll();
  return () => {
    stopped = true;
  };
}

export function startChild(spec: ChildSpec): Promise<RunningChild> {
  // O_APPEND, so the file can be truncated between cells while the child keeps writing.
  if (spec.stdoutFile !== undefined) writeFileSync(spec.stdoutFile, '');
  const stdoutFd = spec.stdoutFile === undefined ? undefined : openSync(spec.stdoutFile, 'a');
  const child = spawn(process.execPath, spec.args, {
    env: spec.env ?? process.env,
    stdio: ['ignore', stdoutFd ?? 'pipe', 'pipe'],
  });
  if (stdoutFd !== undefined) closeSync(stdoutFd);
  killOnExit(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-4000);
  });

  return new Promise((resolve, reject) => {
    let stopWatching = () => {};
    const fail = (why: string) => {
      clearTimeout(timer);
      stopWatching();
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      reject(new Error(`${spec.name} ${why}\n${stderr}`));
    };
    const timer = setTimeout(() => fail('did not become ready in time'), spec.timeoutMs ?? 30_000);
    const onEarlyExit = (code: number | null, signal: NodeJS.Signals | null) =>
      fail(`exited early (code ${code}, signal ${signal})`);
    child.once('exit', onEarlyExit);
    const onReady = (ready: Record<string, unknown>) => {
      clearTimeout(timer);
      stopWatching();
      child.off('exit', onEarlyExit);
      resolve({ name: spec.name, pid: child.pid ?? 0, ready, process: child });
    };
    if (spec.readyProbe) stopWatching = watchProbe(spec.readyProbe, onReady);
    else watchPipe(child, spec.readyMsg ?? '', onReady);
  });
}

/** SIGTERM, then SIGKILL if the child has not exited after `graceMs`. */
export async function stopChild(child: RunningChild, graceMs = 10_000): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.process.once('exit', () => resolve()));
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => process.kill(child.pid, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

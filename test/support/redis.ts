/**
 * A real redis-server (Debian's) on a free loopback port for the L2 cache tests: no config file, no
 * persistence, killed by PID when the test ends. stop()/restart() kill it and bring it back on the
 * same port (a Redis dying mid-test); pause()/resume() freeze it with SIGSTOP/SIGCONT (a Redis that
 * keeps its connections but never answers). With `cluster`, it is a one-node Redis Cluster owning
 * every slot, enough to run the Cluster client code and ask CLUSTER KEYSLOT.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';

const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });

/** A skip reason for tap, or false. Under CI (CI=true) never a skip: the test then fails loudly. */
export const redisServerMissing: string | false =
  probe.error && process.env['CI'] !== 'true'
    ? `redis-server is not installed (${probe.error.message}); apt-get install redis-server`
    : false;

export interface RunningRedis {
  readonly port: number;
  readonly url: string;
  /** SIGKILL, as a crash would; resolves once the process is gone and the port closed. */
  stop(): Promise<void>;
  /** A new redis-server on the same port (empty: nothing was persisted); resolves once it answers. */
  restart(): Promise<void>;
  pause(): void;
  resume(): void;
}

const STARTUP_TIMEOUT_MS = 10_000;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Whether a RESP reply in `text` is complete; only the simple, error, integer and bulk replies we send for. */
function replyComplete(text: string): boolean {
  const lineEnd = text.indexOf('\r\n');
  if (lineEnd < 0) return false;
  if (!text.startsWith('$')) return true;
  const length = Number(text.slice(1, lineEnd));
  return length < 0 || Buffer.byteLength(text) >= lineEnd + 2 + length + 2;
}

/** One command over a fresh connection, the raw reply as text; independent of the client under test. */
export function redisCommand(port: number, ...args: string[]): Promise<string> {
  const request = `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`;
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => socket.write(request));
    let reply = '';
    socket.setTimeout(1000, () => socket.destroy(new Error(`no reply to ${args[0]} within 1 s`)));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('utf8');
      if (!replyComplete(reply)) return;
      socket.end();
      resolve(reply);
    });
    socket.on('error', reject);
  });
}

export async function startRedis(
  t: Test,
  options: { readonly cluster?: boolean } = {},
): Promise<RunningRedis> {
  // A one-node cluster needs somewhere for nodes.conf.
  const dir = options.cluster ? await mkdtemp(join(tmpdir(), 'sluice-redis-')) : undefined;
  let child: ChildProcess | undefined;
  let output = '';
  let port = 0;
  let args: string[] = [];

  const choosePorts = async (): Promise<void> => {
    port = await freePort();
    args = ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'];
    args.push('--loglevel', 'warning');
    if (dir === undefined) return;
    // The bus port is chosen, not left at port + 10000 (which may exceed 65535).
    let busPort = port;
    while (busPort === port) busPort = await freePort();
    args.push('--cluster-enabled', 'yes', '--cluster-port', String(busPort));
    args.push('--cluster-config-file', join(dir, 'nodes.conf'), '--dir', dir);
    // Without an announced address a lone node lists its slots as served by "" and clients give up.
    args.push('--cluster-announce-ip', '127.0.0.1');
  };

  const answers = async (): Promise<boolean> => {
    if (!(await redisCommand(port, 'PING')).startsWith('+PONG')) return false;
    if (dir === undefined) return true;
    // After a restart nodes.conf already gives it every slot, and this only gets an error reply.
    await redisCommand(port, 'CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    return (await redisCommand(port, 'CLUSTER', 'INFO')).includes('cluster_state:ok');
  };

  const launch = async (): Promise<void> => {
    output = '';
    let spawnError: Error | undefined;
    const started = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
    };
    started.stdout?.on('data', collect);
    started.stderr?.on('data', collect);
    started.once('error', (error) => {
      spawnError = error;
    });
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    for (;;) {
      if (spawnError) throw spawnError;
      if (started.exitCode !== null) throw new Error(`redis-server exited (${started.exitCode})\n${output}`);
      if (await answers().catch(() => false)) return;
      if (Date.now() > deadline)
        throw new Error(`redis-server not ready in ${STARTUP_TIMEOUT_MS} ms\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };

  const stop = async (): Promise<void> => {
    const running = child;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    if (running.pid !== undefined) process.kill(running.pid, 'SIGKILL');
    await exited;
  };

  t.teardown(async () => {
    await stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });
  // Another process may bind the free port before redis-server does; then take another.
  for (let attempt = 1; ; attempt += 1) {
    await choosePorts();
    try {
      await launch();
      break;
    } catch (error) {
      if (attempt >= 5 || !output.includes('Address already in use')) throw error;
    }
  }

  const signal = (name: NodeJS.Signals) => {
    if (child?.pid !== undefined && child.exitCode === null) process.kill(child.pid, name);
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    async restart() {
      await stop();
      await launch();
    },
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
  };
}

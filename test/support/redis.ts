/**
 * A real redis-server (Debian's) on a free loopback port for the L2 cache tests: no config file, no
 * persistence, killed by PID when the test ends. stop()/restart() kill it and bring it back on the
 * same port (a Redis dying mid-test); pause()/resume() freeze it with SIGSTOP/SIGCONT (a Redis that
 * keeps its connections but never answers). With `cluster`, it is a one-node Redis Cluster owning
 * every slot, enough to run the Cluster client code and ask CLUSTER KEYSLOT. With `replicaOf`, it is a
 * replica of another one (ready once in sync). startSentinel() runs a Redis Sentinel
 * (`redis-server <file> --sentinel`) watching one master, for the Sentinel and failover tests.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
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

/** A reply as parsed by redisQuery: simple and bulk strings, integers, nil, arrays; error replies inside arrays are Errors. */
export type RedisReply = string | number | null | Error | RedisReply[];

/** One RESP2 reply starting at `start` with where it ends, or undefined while incomplete. */
function parseReply(
  buffer: Buffer,
  start: number,
): { readonly value: RedisReply; readonly end: number } | undefined {
  const lineEnd = buffer.indexOf('\r\n', start);
  if (lineEnd < 0) return undefined;
  const line = buffer.toString('utf8', start + 1, lineEnd);
  const next = lineEnd + 2;
  switch (String.fromCharCode(buffer[start] ?? 0)) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: new Error(line), end: next };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, end: next };
      if (buffer.length < next + length + 2) return undefined;
      return { value: buffer.toString('utf8', next, next + length), end: next + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const items: RedisReply[] = [];
      let end = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, end);
        if (item === undefined) return undefined;
        items.push(item.value);
        end = item.end;
      }
      return { value: items, end };
    }
    default:
      throw new Error(`unexpected RESP reply: ${JSON.stringify(buffer.toString('utf8', start, lineEnd))}`);
  }
}

/**
 * Like redisCommand, but waits for the whole reply, arrays included, and parses it; an error reply
 * rejects. For KEYS, SENTINEL and INFO, independent of the client under test.
 */
export function redisQuery(port: number, ...args: string[]): Promise<RedisReply> {
  const request = `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`;
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => socket.write(request));
    let received = Buffer.alloc(0);
    socket.setTimeout(1000, () => socket.destroy(new Error(`no reply to ${args[0]} within 1 s`)));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      let reply: ReturnType<typeof parseReply>;
      try {
        reply = parseReply(received, 0);
      } catch (error) {
        socket.destroy(error as Error);
        return;
      }
      if (reply === undefined) return;
      socket.end();
      if (reply.value instanceof Error) reject(new Error(`${args.join(' ')}: ${reply.value.message}`));
      else resolve(reply.value);
    });
    socket.on('error', reject);
  });
}

/** The keys matching `pattern` (KEYS: fine for a test's handful of keys), sorted. */
export async function redisKeys(port: number, pattern: string): Promise<string[]> {
  const reply = await redisQuery(port, 'KEYS', pattern);
  if (!Array.isArray(reply)) throw new Error(`KEYS answered ${String(reply)}`);
  return reply.map(String).sort();
}

/** `field value field value …` (SENTINEL MASTER / REPLICAS entries) as an object. */
function fields(reply: RedisReply): Record<string, string> {
  const list = Array.isArray(reply) ? reply : [];
  const result: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) result[String(list[i])] = String(list[i + 1]);
  return result;
}

/** A redis-server process (plain or Sentinel), started until `ready`, killed by its PID only. */
interface RedisProcess {
  /** Spawns `redis-server args` and resolves once `ready` says yes; rejects if it exits first. */
  launch(args: readonly string[], ready: () => Promise<boolean>): Promise<void>;
  /** SIGKILL, as a crash would; resolves once the process is gone. */
  stop(): Promise<void>;
  signal(name: NodeJS.Signals): void;
  /** The last 4000 characters it wrote. */
  output(): string;
}

function redisProcess(): RedisProcess {
  let child: ChildProcess | undefined;
  let output = '';
  return {
    async launch(args, ready) {
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
        if (started.exitCode !== null)
          throw new Error(`redis-server exited (${started.exitCode})\n${output}`);
        if (await ready().catch(() => false)) return;
        if (Date.now() > deadline)
          throw new Error(`redis-server not ready in ${STARTUP_TIMEOUT_MS} ms\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    async stop() {
      const running = child;
      if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      if (running.pid !== undefined) process.kill(running.pid, 'SIGKILL');
      await exited;
    },
    signal(name) {
      if (child?.pid !== undefined && child.exitCode === null) process.kill(child.pid, name);
    },
    output: () => output,
  };
}

/** Another process may bind the free port before redis-server does; then `start` takes another. */
async function onFreePort(server: RedisProcess, start: (port: number) => Promise<void>): Promise<number> {
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    try {
      await start(port);
      return port;
    } catch (error) {
      if (attempt >= 5 || !server.output().includes('Address already in use')) throw error;
    }
  }
}

export async function startRedis(
  t: Test,
  options: {
    readonly cluster?: boolean;
    /** Port of a master on 127.0.0.1 to replicate (`--replicaof`); ready once the link is up. */
    readonly replicaOf?: number;
  } = {},
): Promise<RunningRedis> {
  // A one-node cluster needs somewhere for nodes.conf.
  const dir = options.cluster ? await mkdtemp(join(tmpdir(), 'sluice-redis-')) : undefined;
  const server = redisProcess();
  let port = 0;
  let args: string[] = [];

  const chooseArgs = async (): Promise<void> => {
    args = ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'];
    args.push('--loglevel', 'warning');
    // A replica's first sync starts at once, not after Redis 7's default 5 s wait for more replicas.
    args.push('--repl-diskless-sync-delay', '0');
    if (options.replicaOf !== undefined) args.push('--replicaof', '127.0.0.1', String(options.replicaOf));
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
    if (options.replicaOf !== undefined) {
      return String(await redisQuery(port, 'INFO', 'replication')).includes('master_link_status:up');
    }
    if (dir === undefined) return true;
    // After a restart nodes.conf already gives it every slot, and this only gets an error reply.
    await redisCommand(port, 'CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    return (await redisCommand(port, 'CLUSTER', 'INFO')).includes('cluster_state:ok');
  };

  const launch = () => server.launch(args, answers);

  t.teardown(async () => {
    await server.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });
  port = await onFreePort(server, async (candidate) => {
    port = candidate;
    await chooseArgs();
    await launch();
  });

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop: () => server.stop(),
    async restart() {
      await server.stop();
      await launch();
    },
    pause: () => server.signal('SIGSTOP'),
    resume: () => server.signal('SIGCONT'),
  };
}

export interface RunningSentinel {
  readonly port: number;
  readonly masterName: string;
  /** The master's port as this Sentinel names it now (SENTINEL GET-MASTER-ADDR-BY-NAME). */
  masterPort(): Promise<number | undefined>;
  /** What Sentinel logged lately (+sdown, +switch-master, …), for a failing test's message. */
  log(): string;
  /** SIGKILL by PID; resolves once the process is gone. */
  stop(): Promise<void>;
}

/**
 * A real Redis Sentinel on a free loopback port, the only one watching `masterName` (quorum 1, so
 * it fails over alone), with its own config file in a temp dir (Sentinel rewrites it). Resolves
 * once it is connected to the master and, with `replicas`, has found that many healthy replicas,
 * so a failover can start at once. Killed by PID when the test ends.
 */
export async function startSentinel(
  t: Test,
  options: {
    readonly masterName: string;
    readonly masterPort: number;
    /** How long the master must be silent to be down. Default 500 ms. */
    readonly downAfterMs?: number;
    /** Bounds a failover attempt; a failed one is retried after twice this. Default 3000 ms. */
    readonly failoverTimeoutMs?: number;
    /** Healthy replicas it must know of before this resolves. Default 0. */
    readonly replicas?: number;
  },
): Promise<RunningSentinel> {
  const { masterName, masterPort } = options;
  const dir = await mkdtemp(join(tmpdir(), 'sluice-sentinel-'));
  const file = join(dir, 'sentinel.conf');
  const server = redisProcess();
  t.teardown(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  let port = 0;
  const masterPortNow = async (): Promise<number | undefined> => {
    const reply = await redisQuery(port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName);
    return Array.isArray(reply) && reply.length === 2 ? Number(reply[1]) : undefined;
  };
  const ready = async (): Promise<boolean> => {
    if ((await masterPortNow()) !== masterPort) return false;
    // Flags are `master` alone once it has a working link (not `disconnected`, `s_down`, …).
    if (fields(await redisQuery(port, 'SENTINEL', 'MASTER', masterName))['flags'] !== 'master') return false;
    const replicas = await redisQuery(port, 'SENTINEL', 'REPLICAS', masterName);
    const healthy = (Array.isArray(replicas) ? replicas : [])
      .map(fields)
      .filter((replica) => replica['flags'] === 'slave' && replica['master-link-status'] === 'ok');
    return healthy.length >= (options.replicas ?? 0);
  };

  port = await onFreePort(server, async (candidate) => {
    port = candidate;
    const config = [
      `port ${port}`,
      'bind 127.0.0.1',
      'daemonize no',
      'logfile ""',
      `dir ${dir}`,
      'sentinel resolve-hostnames no',
      `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} 1`,
      `sentinel down-after-milliseconds ${masterName} ${options.downAfterMs ?? 500}`,
      `sentinel failover-timeout ${masterName} ${options.failoverTimeoutMs ?? 3000}`,
    ];
    await writeFile(file, `${config.join('\n')}\n`);
    await server.launch([file, '--sentinel'], ready);
  });

  return {
    port,
    masterName,
    masterPort: masterPortNow,
    log: () => server.output(),
    stop: () => server.stop(),
  };
}

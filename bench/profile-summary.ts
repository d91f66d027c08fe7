/**
 * Where a process spent its CPU: the top self-time functions of a `node --cpu-prof` profile, and
 * the same time grouped by file (node internals, undici, pino, src/...).
 *
 *   node bench/profile-summary.ts FILE.cpuprofile [--top 25] [--callers FUNCTION [--depth 6]]
 *   node bench/profile-summary.ts FILE.cpuprofile --inclusive pino,prom-client,pipeline   (first match up the stack wins)
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** `file:///…/sluice/`: profile URLs under it are shown relative to the repository. */
const repoUrl = new URL('../', import.meta.url).href;

function shortUrl(url: string): string {
  if (url === '') return '(native)';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules !== -1) return url.slice(modules + '/node_modules/'.length);
  return url.startsWith(repoUrl) ? url.slice(repoUrl.length) : url.replace(/^file:\/\//, '');
}

function fileGroup(url: string): string {
  const short = shortUrl(url);
  if (short.startsWith('node:')) return short;
  const parts = short.split('/');
  if (url.includes('/node_modules/'))
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? short);
  return short;
}

const frameName = (f: CallFrame) =>
  `${f.functionName || '(anonymous)'}  ${shortUrl(f.url)}:${f.lineNumber + 1}`;

/**
 * Self time per key, in microseconds, from the samples and their time deltas. `keyOf` gets the
 * sampled node's id and the function that maps a node id to its parent (for caller keys).
 * (idle) is left out: percentages are shares of the time the process was busy.
 */
function selfTimes(profile: CpuProfile, keyOf: (id: number, frames: Frames) => string | undefined) {
  const frames = indexFrames(profile);
  const totals = new Map<string, number>();
  profile.samples.forEach((id, index) => {
    if (frames.frame(id)?.functionName === '(idle)') return;
    const key = keyOf(id, frames);
    if (key === undefined) return;
    totals.set(key, (totals.get(key) ?? 0) + (profile.timeDeltas[index] ?? 0));
  });
  return totals;
}

interface Frames {
  frame(id: number): CallFrame | undefined;
  parent(id: number): number | undefined;
}

function indexFrames(profile: CpuProfile): Frames {
  const byId = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  return { frame: (id) => byId.get(id), parent: (id) => parents.get(id) };
}

/** `depth` callers of the sampled function, when its name contains `name`. */
function callerChain(name: string, depth: number) {
  return (id: number, frames: Frames): string | undefined => {
    const frame = frames.frame(id);
    if (!frame?.functionName.includes(name)) return undefined;
    const chain: string[] = [];
    for (let at = frames.parent(id); at !== undefined && chain.length < depth; at = frames.parent(at)) {
      const caller = frames.frame(at);
      if (caller) chain.push(frameName(caller));
    }
    return chain.join('\n          ← ');
  };
}

/** Busy time of samples with a frame (function name or file) containing each of `needles` on the stack. */
function inclusiveTimes(profile: CpuProfile, needles: readonly string[]): Map<string, number> {
  return selfTimes(profile, (id, frames) => {
    for (let at: number | undefined = id; at !== undefined; at = frames.parent(at)) {
      const frame = frames.frame(at);
      const found = frame && needles.find((n) => frame.functionName.includes(n) || frame.url.includes(n));
      if (found) return found;
    }
    return '(none of these)';
  });
}

function table(title: string, totals: Map<string, number>, top: number): string {
  const all = [...totals.values()].reduce((a, b) => a + b, 0);
  const rows = [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  const lines = rows.map(
    ([key, us]) =>
      `${((100 * us) / all).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}`,
  );
  return `${title} (of ${(all / 1000).toFixed(0)} ms sampled)\n${lines.join('\n')}`;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    options: {
      top: { type: 'string', default: '25' },
      callers: { type: 'string' },
      depth: { type: 'string', default: '6' },
      inclusive: { type: 'string' },
    },
    allowPositionals: true,
  });
  const file = positionals[0];
  if (!file)
    throw new Error(
      'usage: node bench/profile-summary.ts FILE.cpuprofile [--top N] [--callers NAME [--depth N]]',
    );
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const top = Number(values.top);
  if (values.inclusive !== undefined) {
    // The first needle found walking up from the sampled frame wins, so list inner ones first.
    const needles = values.inclusive.split(',');
    console.log(table(`Inclusive time of ${needles.join(', ')}`, inclusiveTimes(profile, needles), top));
  } else if (values.callers !== undefined) {
    console.log(
      table(
        `Callers of ${values.callers}`,
        selfTimes(profile, callerChain(values.callers, Number(values.depth))),
        top,
      ),
    );
  } else {
    const byFunction = selfTimes(profile, (id, frames) => {
      const frame = frames.frame(id);
      return frame && frameName(frame);
    });
    console.log(table('Top self time by function, idle excluded', byFunction, top));
    console.log('');
    const byFile = selfTimes(profile, (id, frames) => fileGroup(frames.frame(id)?.url ?? ''));
    console.log(table('Self time by file / package, idle excluded', byFile, top));
  }
}

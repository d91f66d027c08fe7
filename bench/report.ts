/** Turning the cells of a run into medians per (scenario, target), the comparison ratios and markdown. */
import type { LoadResult } from './load.ts';
import type { Scenario, TargetName } from './scenarios.ts';

export interface CellRecord {
  readonly round: number;
  readonly scenario: string;
  readonly target: TargetName;
  readonly result: LoadResult;
}

export interface SummaryRow {
  readonly scenario: string;
  readonly target: TargetName;
  readonly rounds: number;
  readonly requestsPerSecond: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly ttfeP50Ms: number | undefined;
  readonly ttfeP99Ms: number | undefined;
  readonly errors: number;
  readonly proxyCpuMicrosPerRequest: number | undefined;
  /** Cores the proxy kept busy during the window (1.0 = one full core). */
  readonly proxyCores: number | undefined;
  readonly mockCpuMicrosPerRequest: number;
  readonly loadCpuMicrosPerRequest: number;
  readonly rssMiB: number | undefined;
  readonly peakRssMiB: number | undefined;
  /** Cores busy with anything but the proxy, the mock and the generator (other users of the machine). */
  readonly otherCores: number;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function medianOf(
  results: readonly LoadResult[],
  pick: (r: LoadResult) => number | undefined,
): number | undefined {
  const values = results.map(pick).filter((v): v is number => v !== undefined && Number.isFinite(v));
  return values.length === 0 ? undefined : median(values);
}

export const cpuPerRequest = (r: LoadResult): number | undefined =>
  r.proxyCpuMicros === undefined || r.requests === 0 ? undefined : r.proxyCpuMicros / r.requests;

function otherCores(r: LoadResult): number {
  const ours = (r.proxyCpuMicros ?? 0) + r.mockCpuMicros + r.loadCpuMicros;
  return Math.max(0, r.machine.busyMicros - ours) / 1000 / r.windowMs;
}

export function summarize(
  cells: readonly CellRecord[],
  scenarios: readonly Scenario[],
  targets: readonly TargetName[],
) {
  const rows: SummaryRow[] = [];
  for (const scenario of scenarios) {
    for (const target of targets) {
      const results = cells
        .filter((c) => c.scenario === scenario.name && c.target === target)
        .map((c) => c.result);
      if (results.length === 0) continue;
      const kib = (v: number | undefined) => (v === undefined ? undefined : v / 1024);
      rows.push({
        scenario: scenario.name,
        target,
        rounds: results.length,
        requestsPerSecond: medianOf(results, (r) => (r.requests * 1000) / r.windowMs) ?? 0,
        latencyP50Ms: medianOf(results, (r) => r.latencyMs.p50) ?? Number.NaN,
        latencyP99Ms: medianOf(results, (r) => r.latencyMs.p99) ?? Number.NaN,
        ttfeP50Ms: medianOf(results, (r) => r.ttfeMs?.p50),
        ttfeP99Ms: medianOf(results, (r) => r.ttfeMs?.p99),
        errors: results.reduce((sum, r) => sum + r.errors, 0),
        proxyCpuMicrosPerRequest: medianOf(results, cpuPerRequest),
        proxyCores: medianOf(results, (r) =>
          r.proxyCpuMicros === undefined ? undefined : r.proxyCpuMicros / 1000 / r.windowMs,
        ),
        mockCpuMicrosPerRequest: medianOf(results, (r) => r.mockCpuMicros / r.requests) ?? Number.NaN,
        loadCpuMicrosPerRequest: medianOf(results, (r) => r.loadCpuMicros / r.requests) ?? Number.NaN,
        rssMiB: kib(medianOf(results, (r) => r.proxyMemory?.rssKiB)),
        otherCores: medianOf(results, otherCores) ?? Number.NaN,
        peakRssMiB: kib(
          Math.max(...results.map((r) => r.proxyMemory?.peakRssKiB ?? Number.NaN).filter(Number.isFinite)),
        ),
      });
    }
  }
  return rows.map((row) => (Number.isFinite(row.peakRssMiB) ? row : { ...row, peakRssMiB: undefined }));
}

export interface Comparison {
  readonly scenario: string;
  /** Sluice CPU µs/request ÷ bare CPU µs/request: the median of the per-round ratios. */
  readonly cpuRatio: number | undefined;
  /** The same ratio per round (same round, same conditions), to show the spread. */
  readonly cpuRatioPerRound: readonly number[];
  readonly throughputRatio: number | undefined;
  readonly addedTtfeP50Ms: number | undefined;
  readonly addedTtfeP99Ms: number | undefined;
}

export function compare(
  rows: readonly SummaryRow[],
  cells: readonly CellRecord[],
  scenarios: readonly Scenario[],
) {
  const comparisons: Comparison[] = [];
  for (const { name } of scenarios) {
    const bare = rows.find((r) => r.scenario === name && r.target === 'bare');
    const sluice = rows.find((r) => r.scenario === name && r.target === 'sluice');
    if (!bare || !sluice) continue;
    const ratio = (a: number | undefined, b: number | undefined) =>
      a === undefined || b === undefined ? undefined : a / b;
    const minus = (a: number | undefined, b: number | undefined) =>
      a === undefined || b === undefined ? undefined : a - b;
    const perRound: number[] = [];
    for (const cell of cells.filter((c) => c.scenario === name && c.target === 'sluice')) {
      const twin = cells.find((c) => c.scenario === name && c.target === 'bare' && c.round === cell.round);
      const r = twin && ratio(cpuPerRequest(cell.result), cpuPerRequest(twin.result));
      if (r !== undefined) perRound.push(r);
    }
    comparisons.push({
      scenario: name,
      // Each round's pair ran back to back under the same machine load; their median is the verdict.
      cpuRatio: perRound.length > 0 ? median(perRound) : undefined,
      cpuRatioPerRound: perRound,
      throughputRatio: ratio(sluice.requestsPerSecond, bare.requestsPerSecond),
      addedTtfeP50Ms: minus(sluice.ttfeP50Ms, bare.ttfeP50Ms),
      addedTtfeP99Ms: minus(sluice.ttfeP99Ms, bare.ttfeP99Ms),
    });
  }
  return comparisons;
}

export interface AccountingComparison {
  readonly scenario: string;
  /** Sluice CPU µs/request with LLM accounting ÷ without: the median of the per-round ratios. */
  readonly cpuRatio: number | undefined;
  readonly cpuRatioPerRound: readonly number[];
}

/**
 * `measure(a) / measure(b)` for each round where `target` and `baseline` both ran `scenario`: the
 * two cells of a round ran back to back under the same machine load.
 */
function ratiosPerRound(
  cells: readonly CellRecord[],
  scenario: string,
  target: TargetName,
  baseline: TargetName,
  measure: (result: LoadResult) => number | undefined,
): number[] {
  const ratios: number[] = [];
  for (const cell of cells.filter((c) => c.scenario === scenario && c.target === target)) {
    const twin = cells.find(
      (c) => c.scenario === scenario && c.target === baseline && c.round === cell.round,
    );
    const value = measure(cell.result);
    const base = twin && measure(twin.result);
    if (value !== undefined && base !== undefined && base > 0) ratios.push(value / base);
  }
  return ratios;
}

/** What LLM accounting costs: `sluice` against `sluice-noacct`, paired by round like compare(). */
export function compareAccounting(cells: readonly CellRecord[], scenarios: readonly Scenario[]) {
  const comparisons: AccountingComparison[] = [];
  for (const { name } of scenarios) {
    const perRound = ratiosPerRound(cells, name, 'sluice', 'sluice-noacct', cpuPerRequest);
    if (perRound.length > 0)
      comparisons.push({ scenario: name, cpuRatio: median(perRound), cpuRatioPerRound: perRound });
  }
  return comparisons;
}

export interface CacheHitComparison {
  readonly scenario: string;
  /** Sluice req/s answering from its cache ÷ the mock's own req/s: the median of the per-round ratios. */
  readonly throughputRatio: number | undefined;
  readonly throughputRatioPerRound: readonly number[];
}

/** Cache hits against the upstream itself: answering from memory must beat asking the upstream. */
export function compareCacheHits(cells: readonly CellRecord[], scenarios: readonly Scenario[]) {
  const comparisons: CacheHitComparison[] = [];
  for (const { name } of scenarios.filter((scenario) => scenario.cacheHit)) {
    const rate = (result: LoadResult) => (result.requests * 1000) / result.windowMs;
    const perRound = ratiosPerRound(cells, name, 'sluice', 'direct', rate);
    if (perRound.length > 0)
      comparisons.push({
        scenario: name,
        throughputRatio: median(perRound),
        throughputRatioPerRound: perRound,
      });
  }
  return comparisons;
}

export function markdownCacheHits(comparisons: readonly CacheHitComparison[]): string {
  const head = [
    '| scenario | Sluice (cache hits) ÷ direct req/s (target ≥ 1.0) | per round |',
    '|---|--:|--:|',
  ];
  const body = comparisons.map((c) => {
    const verdict = c.throughputRatio === undefined ? '' : c.throughputRatio >= 1 ? ' ✓' : ' ✗';
    return `| ${c.scenario} | ${fixed(2)(c.throughputRatio)}${verdict} | ${c.throughputRatioPerRound.map((r) => fixed(2)(r)).join(', ')} |`;
  });
  return [...head, ...body].join('\n');
}

const fixed = (digits: number) => (v: number | undefined) =>
  v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(digits);
const f0 = fixed(0);
const f1 = fixed(1);
const f2 = fixed(2);

export function markdownTable(rows: readonly SummaryRow[]): string {
  const head = [
    '| scenario | target | req/s | p50 ms | p99 ms | TTFE p50 ms | TTFE p99 ms | errors | proxy CPU µs/req | proxy cores | RSS MiB | peak RSS MiB | other cores |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  const body = rows.map((r) =>
    [
      r.scenario,
      r.target,
      f0(r.requestsPerSecond),
      f1(r.latencyP50Ms),
      f1(r.latencyP99Ms),
      f1(r.ttfeP50Ms),
      f1(r.ttfeP99Ms),
      String(r.errors),
      f0(r.proxyCpuMicrosPerRequest),
      f2(r.proxyCores),
      f0(r.rssMiB),
      f0(r.peakRssMiB),
      f2(r.otherCores),
    ].join(' | '),
  );
  return [...head, ...body.map((line) => `| ${line} |`)].join('\n');
}

export function markdownComparisons(comparisons: readonly Comparison[]): string {
  const head = [
    '| scenario | Sluice ÷ bare CPU/req (target ≤ 1.25) | per round | Sluice ÷ bare req/s | added TTFE p50 / p99 ms |',
    '|---|--:|--:|--:|--:|',
  ];
  const body = comparisons.map((c) => {
    const ttfe = c.addedTtfeP50Ms === undefined ? 'n/a' : `${f1(c.addedTtfeP50Ms)} / ${f1(c.addedTtfeP99Ms)}`;
    const verdict = c.cpuRatio === undefined ? '' : c.cpuRatio <= 1.25 ? ' ✓' : ' ✗';
    const rounds = c.cpuRatioPerRound.map((r) => f2(r)).join(', ');
    return `| ${c.scenario} | ${f2(c.cpuRatio)}${verdict} | ${rounds} | ${f2(c.throughputRatio)} | ${ttfe} |`;
  });
  return [...head, ...body].join('\n');
}

export function markdownAccounting(comparisons: readonly AccountingComparison[]): string {
  const head = ['| scenario | accounting on ÷ off, CPU/req (target ≤ 1.10) | per round |', '|---|--:|--:|'];
  const body = comparisons.map((c) => {
    const verdict = c.cpuRatio === undefined ? '' : c.cpuRatio <= 1.1 ? ' ✓' : ' ✗';
    return `| ${c.scenario} | ${f2(c.cpuRatio)}${verdict} | ${c.cpuRatioPerRound.map((r) => f2(r)).join(', ')} |`;
  });
  return [...head, ...body].join('\n');
}

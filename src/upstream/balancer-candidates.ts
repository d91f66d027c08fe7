/**
 * The shape every strategy works on: one flat array of candidates, and a contiguous index range of
 * it (the whole array, or one priority tier). Strategies return an index, not a list, so a pick
 * allocates nothing.
 */
import type { Target, TargetState } from './target-stats.ts';

export interface Candidate {
  readonly target: Target;
  readonly name: string;
  readonly weight: number;
  /** costPerRequest, or Infinity when the caller gave none: unknown cost ranks after every known one. */
  readonly cost: number;
  readonly state: TargetState;
  /** Smooth weighted round-robin's running weight; kept here so a pick needs no side table. */
  currentWeight: number;
}

/** Picks an index in [lo, hi) of `candidates`, or −1 when none there may take the request. */
export type PickIn = (
  candidates: readonly Candidate[],
  lo: number,
  hi: number,
  exclude: ReadonlySet<string> | undefined,
  cap: number,
  now: number,
) => number;

/** Whether the candidate may take this request; `cap` is the in-flight count that makes it full. */
export function eligible(
  candidate: Candidate,
  exclude: ReadonlySet<string> | undefined,
  cap: number,
): boolean {
  return (
    candidate.weight > 0 &&
    candidate.state.available &&
    candidate.state.outstanding < cap &&
    (exclude === undefined || !exclude.has(candidate.name))
  );
}

/**
 * Peak-EWMA cost per unit of weight: a target of weight 2 is taken to have twice the capacity, so
 * it may carry twice the load before it looks as busy as a target of weight 1.
 */
export function score(candidate: Candidate, now: number): number {
  return candidate.state.load(now) / candidate.weight;
}

/** Least score in [lo, hi) among eligible candidates whose cost is ≤ `maxCost`; first wins ties. */
export function leastScore(
  candidates: readonly Candidate[],
  lo: number,
  hi: number,
  exclude: ReadonlySet<string> | undefined,
  cap: number,
  now: number,
  maxCost = Number.POSITIVE_INFINITY,
): number {
  let best = -1;
  let bestScore = Number.POSITIVE_INFINITY;
  for (let i = lo; i < hi; i++) {
    const candidate = candidates[i]!;
    if (candidate.cost > maxCost || !eligible(candidate, exclude, cap)) continue;
    const value = score(candidate, now);
    if (best === -1 || value < bestScore) {
      best = i;
      bestScore = value;
    }
  }
  return best;
}

/**
 * Cost-aware: the cheapest eligible target by the caller's per-request cost estimate (from the price
 * table), so traffic goes to the expensive provider only while the cheap one cannot take it. Costs
 * within `tolerance` of the cheapest count as equal, and equals are split by least load, so two
 * providers at nearly the same price share the traffic instead of one taking all of it.
 */
import { type Candidate, eligible, leastScore } from './balancer-candidates.ts';

export function pickCheapest(
  candidates: readonly Candidate[],
  lo: number,
  hi: number,
  exclude: ReadonlySet<string> | undefined,
  cap: number,
  now: number,
  tolerance: number,
): number {
  let cheapest = Number.POSITIVE_INFINITY;
  let any = false;
  for (let i = lo; i < hi; i++) {
    const candidate = candidates[i]!;
    if (!eligible(candidate, exclude, cap)) continue;
    any = true;
    if (candidate.cost < cheapest) cheapest = candidate.cost;
  }
  if (!any) return -1;
  return leastScore(candidates, lo, hi, exclude, cap, now, cheapest * (1 + tolerance));
}

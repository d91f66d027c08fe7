/**
 * Smooth weighted round-robin, as nginx does it: every eligible candidate gains its weight, the one
 * with the most running weight is picked and pays back the total. Deterministic, and it interleaves
 * (weights 5/1/1 give a a b a c a a, not a a a a a b c), so a heavy target never gets a burst.
 *
 * Unavailable and excluded candidates neither gain nor pay, as in nginx: when one comes back it
 * resumes where it was, instead of collecting the credit of its absence as a burst of picks.
 */
import { type Candidate, eligible } from './balancer-candidates.ts';

export function pickWeightedRoundRobin(
  candidates: readonly Candidate[],
  lo: number,
  hi: number,
  exclude: ReadonlySet<string> | undefined,
  cap: number,
): number {
  let total = 0;
  let best = -1;
  let bestWeight = Number.NEGATIVE_INFINITY;
  for (let i = lo; i < hi; i++) {
    const candidate = candidates[i]!;
    if (!eligible(candidate, exclude, cap)) continue;
    candidate.currentWeight += candidate.weight;
    total += candidate.weight;
    if (candidate.currentWeight > bestWeight) {
      best = i;
      bestWeight = candidate.currentWeight;
    }
  }
  if (best !== -1) candidates[best]!.currentWeight -= total;
  return best;
}

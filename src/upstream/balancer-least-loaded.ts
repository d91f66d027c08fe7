/**
 * Least-loaded by the power of two choices (Mitzenmacher; Finagle, Linkerd, Envoy): draw two distinct
 * eligible candidates, weighted-randomly, and take the one with the lower peak-EWMA cost per weight.
 * Comparing two random candidates instead of scanning for the global minimum matters when several
 * proxies (or many requests in one tick) share stale information: they do not all stampede the one
 * target that looked best a moment ago, and the slower target keeps getting the occasional request
 * that tells us whether it recovered.
 */
import { type Candidate, eligible, type PickIn, score } from './balancer-candidates.ts';

/** Index into `ends` of the first running sum above `point`; the last one owns rounding overshoot. */
function locate(ends: Float64Array, count: number, point: number): number {
  for (let k = 0; k < count - 1; k++) if (point < ends[k]!) return k;
  return count - 1;
}

/**
 * One eligibility pass fills scratch arrays sized for `size` candidates, allocated once here, so the
 * exclude set is read once per candidate and a pick allocates nothing.
 */
export function leastLoadedPicker(size: number, random: () => number): PickIn {
  const indices = new Int32Array(size);
  const ends = new Float64Array(size);
  return (candidates: readonly Candidate[], lo, hi, exclude, cap, now) => {
    let count = 0;
    let total = 0;
    for (let i = lo; i < hi; i++) {
      const candidate = candidates[i]!;
      if (!eligible(candidate, exclude, cap)) continue;
      total += candidate.weight;
      indices[count] = i;
      ends[count] = total;
      count++;
    }
    if (count <= 1) return count === 1 ? indices[0]! : -1;
    const first = locate(ends, count, random() * total);
    const start = first === 0 ? 0 : ends[first - 1]!;
    const width = ends[first]! - start;
    // The second draw is on the line without the first's stretch; points past it shift over it.
    let point = random() * (total - width);
    if (point >= start) point += width;
    let second = locate(ends, count, point);
    if (second === first) second = first === count - 1 ? first - 1 : first + 1;
    const a = candidates[indices[first]!]!;
    const b = candidates[indices[second]!]!;
    return score(b, now) < score(a, now) ? indices[second]! : indices[first]!;
  };
}

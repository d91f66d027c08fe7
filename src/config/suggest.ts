/** "Did you mean" suggestions for misspelt keys and names. */
import { closest, distance } from 'fastest-levenshtein';

/** `hots` for `host`: Levenshtein counts a swap of neighbours as two edits, but it is one slip of the fingers. */
function isSwap(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  const differ = [...a].flatMap((char, i) => (char === b[i] ? [] : [i]));
  const [i, j] = differ;
  return differ.length === 2 && i !== undefined && j === i + 1 && a[i] === b[j] && a[j] === b[i];
}

/**
 * The closest candidate, when it is close enough to be a likely typo: at most a third of the
 * longer name may differ (one edit for short names), so `host` never suggests `port`.
 */
export function closestName(name: string, candidates: readonly string[]): string | undefined {
  if (candidates.length === 0) return undefined;
  const lower = name.toLowerCase();
  const best = closest(
    lower,
    candidates.map((c) => c.toLowerCase()),
  );
  const allowed = Math.max(1, Math.floor(Math.max(lower.length, best.length) / 3));
  if (distance(lower, best) > allowed && !isSwap(lower, best)) return undefined;
  return candidates.find((c) => c.toLowerCase() === best);
}

/** ` (did you mean "x"?)`, or nothing. */
export function didYouMean(name: string, candidates: readonly string[]): string {
  const suggestion = closestName(name, candidates);
  return suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`;
}

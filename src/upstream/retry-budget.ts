/**
 * A retry budget after Finagle's RetryBudget: retries (and hedges) may add at most `ratio` of the
 * requests seen over a sliding window, plus a small floor so a quiet route can still retry. A
 * per-request attempt limit alone multiplies load by maxAttempts exactly when the upstream is least
 * able to take it; a budget bounds the extra load for the whole upstream, however many requests fail.
 *
 * The window is a ring of buckets (windowMs / buckets each): counts live in preallocated typed
 * arrays, and moving the window clears at most `buckets` slots, so every call is O(1) amortised and
 * allocates nothing.
 *
 * The rule, checked at every withdrawal: withdrawals in the window (this one included) ≤
 * ratio × deposits in the window + minRetriesPerSecond × windowMs / 1000.
 *
 * The bound it gives (property-tested): over any run, withdrawals ≤ ratio × deposits +
 * minRetriesPerSecond × windowMs / 1000 × ⌈K / buckets⌉, where K is the number of buckets from the
 * bucket of the first call to that of the last. Split the run, from the end, into groups of
 * `buckets` consecutive buckets: the last withdrawal of a group saw every earlier withdrawal of its
 * group and only deposits of its own group, so each group obeys the rule, and the groups add up.
 * With one deposit per client request and one withdrawal per retry or hedge, upstream attempts ≤
 * (1 + ratio) × requests + that floor term.
 */
import { type BudgetOptions, budgetDefaults, validateBudgetOptions } from './retry-options.ts';

export class RetryBudget {
  private readonly deposits: Float64Array;
  private readonly withdrawals: Float64Array;
  private readonly bucketMs: number;
  private readonly ratio: number;
  private readonly reserve: number;
  private readonly now: () => number;
  /** Absolute index (time / bucketMs) of the bucket `head` holds. */
  private bucket: number;
  private head = 0;
  private depositTotal = 0;
  private withdrawalTotal = 0;

  /** `now`: a monotonic clock in ms (default performance.now); injectable so tests own time. */
  constructor(options: Partial<BudgetOptions> = {}, now: () => number = () => performance.now()) {
    const resolved = { ...budgetDefaults, ...options };
    validateBudgetOptions(resolved);
    this.deposits = new Float64Array(resolved.buckets);
    this.withdrawals = new Float64Array(resolved.buckets);
    this.bucketMs = resolved.windowMs / resolved.buckets;
    this.ratio = resolved.ratio;
    this.reserve = (resolved.minRetriesPerSecond * resolved.windowMs) / 1000;
    this.now = now;
    this.bucket = Math.floor(now() / this.bucketMs);
  }

  /** One client request: earns `ratio` of a retry for the next window. */
  deposit(): void {
    this.advance();
    this.deposits[this.head]!++;
    this.depositTotal++;
  }

  /** Takes one retry or hedge from the budget; false (and nothing taken) when it is spent. */
  tryWithdraw(): boolean {
    this.advance();
    if (this.withdrawalTotal + 1 > this.allowance()) return false;
    this.withdrawals[this.head]!++;
    this.withdrawalTotal++;
    return true;
  }

  /** Whole retries left in the window now, for a gauge; 0 means the next retry is refused. */
  available(): number {
    this.advance();
    return Math.max(0, Math.floor(this.allowance() - this.withdrawalTotal));
  }

  private allowance(): number {
    return this.ratio * this.depositTotal + this.reserve;
  }

  private advance(): void {
    const current = Math.floor(this.now() / this.bucketMs);
    // A clock that steps back (it should not; performance.now does not) keeps the current bucket.
    if (current <= this.bucket) return;
    const size = this.deposits.length;
    const steps = Math.min(current - this.bucket, size);
    for (let i = 0; i < steps; i++) {
      this.head = (this.head + 1) % size;
      this.depositTotal -= this.deposits[this.head]!;
      this.withdrawalTotal -= this.withdrawals[this.head]!;
      this.deposits[this.head] = 0;
      this.withdrawals[this.head] = 0;
    }
    this.bucket = current;
  }
}

/**
 * Counts of calls and slow calls over a rolling window of buckets, for latency-aware opening (after
 * Caddy's `unhealthy_latency`). It rotates on the same 'rotate' events as opossum's own window, so
 * the error rate and the slow-call rate always cover the same calls.
 */
export class SlowCallWindow {
  private readonly calls: number[];
  private readonly slow: number[];
  private head = 0;
  private totalCalls = 0;
  private totalSlow = 0;

  constructor(buckets: number) {
    this.calls = new Array<number>(buckets).fill(0);
    this.slow = new Array<number>(buckets).fill(0);
  }

  add(slow: boolean): void {
    this.calls[this.head]!++;
    this.totalCalls++;
    if (slow) {
      this.slow[this.head]!++;
      this.totalSlow++;
    }
  }

  /** Starts a new bucket; the oldest one leaves the window. */
  rotate(): void {
    this.head = (this.head + 1) % this.calls.length;
    this.totalCalls -= this.calls[this.head]!;
    this.totalSlow -= this.slow[this.head]!;
    this.calls[this.head] = 0;
    this.slow[this.head] = 0;
  }

  clear(): void {
    this.calls.fill(0);
    this.slow.fill(0);
    this.totalCalls = 0;
    this.totalSlow = 0;
  }

  /** At least `volume` calls, and slow ones above `ratePercent` of them (strictly, as opossum's rate). */
  exceeds(volume: number, ratePercent: number): boolean {
    return this.totalCalls >= volume && this.totalSlow * 100 > ratePercent * this.totalCalls;
  }
}

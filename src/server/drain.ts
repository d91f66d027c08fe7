/** Counts requests in flight across all config generations, so shutdown can wait for the last one. */
export class DrainTracker {
  private inFlight = 0;
  private waiters: (() => void)[] = [];

  enter(): void {
    this.inFlight++;
  }

  leave(): void {
    if (--this.inFlight > 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  get count(): number {
    return this.inFlight;
  }

  /** Resolves true when nothing is in flight, false when `timeoutMs` passed first. */
  whenIdle(timeoutMs: number): Promise<boolean> {
    if (this.inFlight === 0) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}

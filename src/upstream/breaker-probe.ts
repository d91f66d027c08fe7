/**
 * Admission tickets and the probe gate. While a target is on trial (breaker half-open, ejection
 * over) only a few requests may test it; the gate hands out that many probe tickets and takes each
 * back when its outcome or abandonment is reported. Tickets carry the trial's generation, so a
 * probe that outlives its trial (the breaker re-opened meanwhile) can never free a slot of the next.
 */

export interface Admission {
  readonly probe: boolean;
  readonly generation: number;
}

/** The ticket of an ordinary request: shared, so a healthy target costs no allocation per request. */
export const PASS: Admission = Object.freeze({ probe: false, generation: -1 });

export class ProbeGate {
  private generation = 0;
  private inFlight = 0;
  private limit = 0;

  /** Starts a trial with `limit` probe slots; tickets of earlier trials stop counting. */
  start(limit: number): void {
    this.generation++;
    this.inFlight = 0;
    this.limit = limit;
  }

  /** Ends the trial; late tickets are ignored. */
  stop(): void {
    this.start(0);
  }

  get free(): boolean {
    return this.inFlight < this.limit;
  }

  take(): Admission | undefined {
    if (this.inFlight >= this.limit) return undefined;
    this.inFlight++;
    return { probe: true, generation: this.generation };
  }

  /** Frees the slot of a probe of the current trial and says whether it was one. */
  settle(admission: Admission): boolean {
    if (!admission.probe || admission.generation !== this.generation || this.inFlight === 0) return false;
    this.inFlight--;
    return true;
  }
}

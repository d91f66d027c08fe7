/** The contract every `sluice` sub-command implements; cmd/sluice.ts only dispatches. */
export interface Command {
  readonly name: string;
  /** One line for `sluice --help`. */
  readonly summary: string;
  /** Full text for `sluice <name> --help`. */
  readonly usage: string;
  /** Runs the command; resolves to the process exit code. Long-running commands resolve when they stop. */
  run(args: readonly string[]): Promise<number>;
}

/** A usage error: cmd/sluice.ts prints the message and the command's usage and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * How the pagination modules report what went wrong: a value, not an exception. Every failure here
 * is the client's or the upstream's doing (a bad cursor, a list too large), expected in normal
 * traffic, and the caller maps each kind to one catalog error; a thrown error would have to be told
 * apart from real bugs. Exceptions stay for programming errors (bad settings, misuse).
 */

/** One failure: a stable `kind` the caller switches on, and a message fit to show the client. */
export interface PaginationProblem<K extends string> {
  readonly kind: K;
  readonly message: string;
}

export type Result<T, K extends string> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: PaginationProblem<K> };

export const ok = <T>(value: T): { readonly ok: true; readonly value: T } => ({ ok: true, value });

export const fail = <K extends string>(
  kind: K,
  message: string,
): { readonly ok: false; readonly error: PaginationProblem<K> } => ({ ok: false, error: { kind, message } });

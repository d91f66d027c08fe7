/** What the cache keeps of one answer, whatever tier holds it. */

export interface CachedResponse {
  readonly status: number;
  /** The response headers worth replaying (see storableHeaders), names lower-case. */
  readonly headers: Readonly<Record<string, string>>;
  /** The whole body as the upstream sent it: JSON, or the complete SSE event stream. */
  readonly body: Buffer;
  /** An SSE stream (replayed as one), or a JSON answer. */
  readonly stream: boolean;
  /** Epoch milliseconds: when it was stored (for `Age`) and until when it may be served. */
  readonly storedAt: number;
  readonly expiresAt: number;
}

/** JSON objects in the LLM and cache code: the object check, and request bodies parsed once per request. */
export type JsonObject = Record<string, unknown>;

export function jsonObject(value: unknown): JsonObject | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as JsonObject)
    : undefined;
}

/**
 * Request bodies parsed once per request: the cache and LLM stages both read the same body, and a
 * large prompt is the most expensive thing either does. Keyed by the Buffer, so a stage that
 * rewrites the body (ensure_stream_usage) gets its own parse of the new one.
 */
const parsedBodies = new WeakMap<Buffer, JsonObject | null>();

/** The body as a JSON object, or undefined when it is empty, not JSON, or not an object. */
export function parseJsonObject(body: Buffer | undefined): JsonObject | undefined {
  if (body === undefined || body.length === 0) return undefined;
  const known = parsedBodies.get(body);
  if (known !== undefined) return known ?? undefined;
  let parsed: JsonObject | undefined;
  try {
    parsed = jsonObject(JSON.parse(body.toString('utf8')));
  } catch {
    parsed = undefined;
  }
  parsedBodies.set(body, parsed ?? null);
  return parsed;
}

/** JSON objects in the LLM and cache code: the object check, and request bodies parsed once per request. */
export type JsonObject = Record<string, unknown>;

export function jsonObject(value: unknown): JsonObject | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as JsonObject)
    : undefined;
}

/** The body as a JSON object, or undefined when it is empty, not JSON, or not an object. */
export function parseJsonObject(body: Buffer | undefined): JsonObject | undefined {
  if (body === undefined || body.length === 0) return undefined;
  try {
    return jsonObject(JSON.parse(body.toString('utf8')));
  } catch {
    return undefined;
  }
}

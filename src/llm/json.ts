/** The one check the LLM adapters make of parsed JSON: is this value an object (not null, not an array)? */
export type JsonObject = Record<string, unknown>;

export function jsonObject(value: unknown): JsonObject | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as JsonObject)
    : undefined;
}

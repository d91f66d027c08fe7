/**
 * The config as the checks see it before the schema has vouched for it: any shape at all, so
 * every access is guarded.
 */
export type Loose = Record<string, unknown>;

export function isRecord(value: unknown): value is Loose {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

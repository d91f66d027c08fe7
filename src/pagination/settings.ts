/**
 * Settings of a route's pagination shim, their defaults and their eager validation. The config
 * schema checks the YAML, but the shim is built from these numbers on every reload, and a bad one
 * (a maximum page of 0, a snapshot budget smaller than one list) would only show under traffic, so
 * resolving refuses it with the name of the field.
 */

export interface PaginationSettings {
  /**
   * Where the list sits in the upstream's JSON body, as a dot path (`data`, `result.models`).
   * The empty string means the body itself is the array (some self-hosted servers answer so).
   */
  readonly itemsPath: string;
  /** The field of an item that `after=<id>` and first_id / last_id read; string or number values. */
  readonly idField: string;
  /**
   * Page size when the client sends no `limit`. Undefined: a request without paging parameters is
   * passed through unchanged, the whole list as the upstream sent it.
   */
  readonly defaultLimit?: number;
  /** The largest page served. */
  readonly maxLimit: number;
  /** A `limit` above maxLimit: serve maxLimit items ('clamp') or answer 400 ('reject'). */
  readonly overLimit: 'clamp' | 'reject';
  /**
   * How long the snapshot of a walk lives, counted from its first page (not refreshed by later
   * pages): a walk never serves data older than this, and a cursor says when it stops working.
   */
  readonly snapshotTtlMs: number;
  /** The largest upstream list body accepted, checked before parsing: larger is a 413-style error. */
  readonly maxListBytes: number;
  /** The most items an upstream list may hold. */
  readonly maxItems: number;
  /** Snapshots held at once (all routes sharing the store); the least recently used go first. */
  readonly maxSnapshots: number;
  /**
   * The bytes all snapshots may hold, counted as the upstream JSON bytes of their lists. Not in
   * the issue: a bound by count alone would let 1000 lists of 8 MiB take 8 GiB. At least
   * maxListBytes, so one list of the largest accepted size always fits.
   */
  readonly maxSnapshotBytes: number;
  /**
   * HMAC key of cursors (≥ 16 bytes, 32 random bytes recommended). Without it each process draws its
   * own key, and a cursor works only on the replica that made it: set it when several replicas
   * share traffic without sticky sessions.
   */
  readonly secret?: Buffer;
}

const MiB = 1024 * 1024;

export const paginationDefaults: PaginationSettings = {
  itemsPath: 'data',
  idField: 'id',
  maxLimit: 100,
  overLimit: 'clamp',
  snapshotTtlMs: 60_000,
  maxListBytes: 8 * MiB,
  maxItems: 100_000,
  maxSnapshots: 1000,
  maxSnapshotBytes: 64 * MiB,
};

/**
 * Cursor offsets are 32-bit (see cursor.ts); lists are far below this anyway, since maxListBytes
 * bounds them first.
 */
const MAX_ITEMS_CEILING = 0xffff_ffff;

/** The defaults with `overrides` on top, validated once, so the shim can trust them per request. */
export function resolvePaginationSettings(overrides: Partial<PaginationSettings> = {}): PaginationSettings {
  const settings: PaginationSettings = { ...paginationDefaults, ...overrides };
  validatePaginationSettings(settings);
  return Object.freeze(settings);
}

function check(ok: boolean, path: string, rule: string, value: unknown): void {
  if (!ok) throw new RangeError(`${path} must be ${rule}, got ${String(value)}`);
}

const integerIn = (value: number, min: number, max: number) =>
  Number.isSafeInteger(value) && value >= min && value <= max;

export function validatePaginationSettings(settings: PaginationSettings): void {
  const { itemsPath, idField, defaultLimit, maxLimit, maxItems, maxListBytes } = settings;
  check(
    typeof itemsPath === 'string' && (itemsPath === '' || itemsPath.split('.').every((key) => key !== '')),
    'itemsPath',
    'a dot path of non-empty keys, or "" for a top-level array',
    itemsPath,
  );
  check(typeof idField === 'string' && idField !== '', 'idField', 'a non-empty string', idField);
  check(integerIn(maxLimit, 1, MAX_ITEMS_CEILING), 'maxLimit', 'an integer ≥ 1', maxLimit);
  if (defaultLimit !== undefined) {
    check(
      integerIn(defaultLimit, 1, maxLimit),
      'defaultLimit',
      `an integer 1-maxLimit (${maxLimit})`,
      defaultLimit,
    );
  }
  check(
    settings.overLimit === 'clamp' || settings.overLimit === 'reject',
    'overLimit',
    '"clamp" or "reject"',
    settings.overLimit,
  );
  check(
    integerIn(settings.snapshotTtlMs, 1, 2 ** 40),
    'snapshotTtlMs',
    'an integer ≥ 1',
    settings.snapshotTtlMs,
  );
  check(integerIn(maxListBytes, 1, Number.MAX_SAFE_INTEGER), 'maxListBytes', 'an integer ≥ 1', maxListBytes);
  check(integerIn(maxItems, 1, MAX_ITEMS_CEILING), 'maxItems', `an integer 1-${MAX_ITEMS_CEILING}`, maxItems);
  check(
    integerIn(settings.maxSnapshots, 1, 1_000_000),
    'maxSnapshots',
    'an integer 1-1000000',
    settings.maxSnapshots,
  );
  check(
    integerIn(settings.maxSnapshotBytes, maxListBytes, Number.MAX_SAFE_INTEGER),
    'maxSnapshotBytes',
    `an integer ≥ maxListBytes (${maxListBytes})`,
    settings.maxSnapshotBytes,
  );
  const { secret } = settings;
  if (secret !== undefined) {
    // The value is a secret: name its length, never its bytes.
    check(
      Buffer.isBuffer(secret) && secret.length >= 16,
      'secret',
      'a Buffer of ≥ 16 bytes',
      `${secret?.length} bytes`,
    );
  }
}

/**
 * Opaque page cursors: where a walk stands (snapshot, offset, page size) and until when, packed
 * into a few dozen bytes, signed and base64url-encoded so they sit in a query string unescaped.
 *
 * Why an HMAC rather than plain encoding: the cursor comes back from the client, who could
 * otherwise edit it — point it at another walk's snapshot (another tenant's list, if an id ever
 * leaked through a log), forge an offset, or extend its expiry. With the MAC, Sluice only ever
 * reads cursors it wrote itself, for the same scope (the caller passes e.g. route + credential
 * hash, which is signed but not carried), so the offset needs no further trust checks.
 *
 * Across replicas: without `settings.secret` each process draws a random key at start, so a
 * cursor is only valid on the replica that issued it (elsewhere it reads as 'tampered'), and dies
 * with a restart. Snapshots are per process too (snapshots.ts), so a shared secret alone does not
 * make walks portable: it turns the failure into a clear 'unknown_snapshot'. Walks across replicas
 * need sticky routing of the walk (or a shared snapshot store, not built yet).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { fail, ok, type Result } from './result.ts';
import { SNAPSHOT_ID_BYTES, UNKNOWN_SNAPSHOT_MESSAGE } from './snapshots.ts';

export interface CursorPayload {
  readonly snapshotId: string;
  /** Index of the first item of the page the cursor asks for. */
  readonly offset: number;
  /** The walk's page size, so a client that sends only `cursor` keeps getting the same size. */
  readonly limit?: number;
  /** Epoch milliseconds: the snapshot's expiry, after which the cursor is refused as 'expired'. */
  readonly expiresAt: number;
}

export type CursorErrorKind = 'malformed' | 'tampered' | 'expired' | 'unknown_snapshot';

/**
 * Layout of version 1, big-endian: version (1 byte) | snapshot id (16) | offset (uint32) |
 * limit (uint32, 0 = none) | expiresAt (uint48 ms, good until the year 10889) | MAC (16).
 * A new layout takes a new version byte; unknown versions are refused as malformed.
 */
const VERSION = 1;
const ID_AT = 1;
const OFFSET_AT = ID_AT + SNAPSHOT_ID_BYTES;
const LIMIT_AT = OFFSET_AT + 4;
const EXPIRES_AT = LIMIT_AT + 4;
const MAC_AT = EXPIRES_AT + 6;
/** HMAC-SHA256 cut to 128 bits: forging one still takes ~2^128 tries, and the cursor stays short. */
const MAC_BYTES = 16;
const CURSOR_BYTES = MAC_AT + MAC_BYTES;
/** base64url without padding of CURSOR_BYTES bytes. */
const CURSOR_CHARS = Math.ceil((CURSOR_BYTES * 8) / 6);
const BASE64URL = /^[A-Za-z0-9_-]*$/;
const UINT32_MAX = 0xffff_ffff;
const UINT48_MAX = 2 ** 48 - 1;
/** Domain separation: a configured secret reused elsewhere cannot yield MACs that pass as cursors. */
const MAC_LABEL = 'sluice-pagination-cursor\0';

let processKey: Buffer | undefined;

/** The HMAC key: the configured secret, or one drawn once per process (see the header comment). */
export function cursorKey(secret?: Buffer): Buffer {
  if (secret !== undefined) return secret;
  processKey ??= randomBytes(32);
  return processKey;
}

function mac(key: Buffer, payload: Buffer, scope: string): Buffer {
  return createHmac('sha256', key)
    .update(MAC_LABEL)
    .update(payload)
    .update(scope, 'utf8')
    .digest()
    .subarray(0, MAC_BYTES);
}

function snapshotIdBytes(id: string): Buffer | undefined {
  const raw = Buffer.from(id, 'base64url');
  return raw.length === SNAPSHOT_ID_BYTES && raw.toString('base64url') === id ? raw : undefined;
}

/**
 * The cursor for `payload`, valid only when decoded with the same key and scope. Throws on a
 * payload Sluice could not have made (an id not from newSnapshotId, an offset beyond 32 bits):
 * those are bugs, not client input.
 */
export function encodeCursor(payload: CursorPayload, key: Buffer, scope = ''): string {
  const id = snapshotIdBytes(payload.snapshotId);
  if (id === undefined) throw new TypeError(`not a snapshot id: ${payload.snapshotId}`);
  const { offset, limit = 0, expiresAt } = payload;
  if (!Number.isInteger(offset) || offset < 0 || offset > UINT32_MAX) {
    throw new RangeError(`cursor offset must be a uint32, got ${offset}`);
  }
  if (!Number.isInteger(limit) || limit < 0 || limit > UINT32_MAX) {
    throw new RangeError(`cursor limit must be a uint32, got ${limit}`);
  }
  if (!Number.isInteger(expiresAt) || expiresAt < 0 || expiresAt > UINT48_MAX) {
    throw new RangeError(`cursor expiresAt must be a uint48, got ${expiresAt}`);
  }
  const bytes = Buffer.alloc(CURSOR_BYTES);
  bytes.writeUInt8(VERSION, 0);
  id.copy(bytes, ID_AT);
  bytes.writeUInt32BE(offset, OFFSET_AT);
  bytes.writeUInt32BE(limit, LIMIT_AT);
  bytes.writeUIntBE(expiresAt, EXPIRES_AT, 6);
  mac(key, bytes.subarray(0, MAC_AT), scope).copy(bytes, MAC_AT);
  return bytes.toString('base64url');
}

export interface DecodeOptions {
  /** The scope the cursor was encoded for; another scope reads as 'tampered'. */
  readonly scope?: string;
  /** Epoch milliseconds. */
  readonly now?: () => number;
  /** When given, a valid cursor whose snapshot is gone (evicted, restarted) is 'unknown_snapshot'. */
  readonly snapshots?: { has(id: string): boolean };
}

const malformed = () =>
  fail(
    'malformed',
    'The cursor is not one Sluice issued; pass next_cursor from the previous page unchanged.',
  );

/**
 * The payload of a cursor this process (or a replica sharing its secret) issued, checked in an
 * order that reads nothing unauthenticated beyond the version byte that picks the layout: shape,
 * MAC, then expiry, then whether the snapshot is still held.
 */
export function decodeCursor(
  token: string,
  key: Buffer,
  options: DecodeOptions = {},
): Result<CursorPayload, CursorErrorKind> {
  // The length test first, so a megabyte of junk is refused before it is decoded.
  if (token.length !== CURSOR_CHARS || !BASE64URL.test(token)) return malformed();
  const bytes = Buffer.from(token, 'base64url');
  // Leftover bits of the last character must be zero: one cursor, one spelling.
  if (bytes.length !== CURSOR_BYTES || bytes.toString('base64url') !== token) return malformed();
  if (bytes.readUInt8(0) !== VERSION) return malformed();
  const expected = mac(key, bytes.subarray(0, MAC_AT), options.scope ?? '');
  // Constant time, so response timing does not reveal how many MAC bytes a forgery got right.
  if (!timingSafeEqual(expected, bytes.subarray(MAC_AT))) {
    return fail(
      'tampered',
      'The cursor was altered, belongs to another list, or was issued by another Sluice instance; start again without a cursor.',
    );
  }
  const limit = bytes.readUInt32BE(LIMIT_AT);
  const payload: CursorPayload = {
    snapshotId: bytes.subarray(ID_AT, OFFSET_AT).toString('base64url'),
    offset: bytes.readUInt32BE(OFFSET_AT),
    expiresAt: bytes.readUIntBE(EXPIRES_AT, 6),
    ...(limit > 0 ? { limit } : {}),
  };
  const now = (options.now ?? Date.now)();
  if (now >= payload.expiresAt) {
    return fail(
      'expired',
      'The cursor has expired (pages of one walk are served for a limited time); start again without a cursor.',
    );
  }
  if (options.snapshots !== undefined && !options.snapshots.has(payload.snapshotId)) {
    return fail('unknown_snapshot', UNKNOWN_SNAPSHOT_MESSAGE);
  }
  return ok(payload);
}

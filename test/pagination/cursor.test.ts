import { randomBytes } from 'node:crypto';
import t from 'tap';
import { type CursorPayload, cursorKey, decodeCursor, encodeCursor } from '../../src/pagination/cursor.ts';
import { newSnapshotId } from '../../src/pagination/snapshots.ts';

const NOW = 1_700_000_000_000;
const key = randomBytes(32);
const payload = (over: Partial<CursorPayload> = {}): CursorPayload => ({
  snapshotId: newSnapshotId(),
  offset: 42,
  limit: 7,
  expiresAt: NOW + 60_000,
  ...over,
});
const at = (ms: number) => () => ms;

t.test('round trip', async (t) => {
  const p = payload();
  const token = encodeCursor(p, key);
  t.match(token, /^[A-Za-z0-9_-]+$/, 'url-safe without escaping');
  t.ok(token.length < 80, `short: ${token.length} chars`);
  t.same(decodeCursor(token, key, { now: at(NOW) }), { ok: true, value: p });
  const noLimit = payload({ limit: undefined, offset: 0 });
  const decoded = decodeCursor(encodeCursor(noLimit, key), key, { now: at(NOW) });
  t.ok(
    decoded.ok && decoded.value.limit === undefined && !('limit' in decoded.value),
    'no limit stays absent',
  );
  const big = payload({ offset: 0xffff_ffff, limit: 0xffff_ffff });
  t.same(decodeCursor(encodeCursor(big, key), key, { now: at(NOW) }), { ok: true, value: big });
});

t.test('flipping any byte is detected', async (t) => {
  const token = encodeCursor(payload(), key);
  const bytes = Buffer.from(token, 'base64url');
  const kinds = new Set<string>();
  for (let i = 0; i < bytes.length; i++) {
    const copy = Buffer.from(bytes);
    copy[i]! ^= 0x01;
    const result = decodeCursor(copy.toString('base64url'), key, { now: at(NOW) });
    t.notOk(result.ok, `byte ${i}`);
    if (!result.ok) kinds.add(result.error.kind);
  }
  // Byte 0 is the version: another value reads as malformed; every other byte breaks the MAC.
  t.same([...kinds].sort(), ['malformed', 'tampered']);
  const result = decodeCursor(token.slice(0, 10) + (token[10] === 'A' ? 'B' : 'A') + token.slice(11), key, {
    now: at(NOW),
  });
  t.match(result, { ok: false, error: { kind: 'tampered', message: /altered/ } });
});

t.test('another key or scope reads as tampered', async (t) => {
  const token = encodeCursor(payload(), key, 'models:tenant-a');
  t.match(decodeCursor(token, randomBytes(32), { now: at(NOW), scope: 'models:tenant-a' }), {
    error: { kind: 'tampered' },
  });
  t.match(decodeCursor(token, key, { now: at(NOW), scope: 'models:tenant-b' }), {
    error: { kind: 'tampered' },
  });
  t.match(decodeCursor(token, key, { now: at(NOW) }), { error: { kind: 'tampered' } });
  t.match(decodeCursor(token, key, { now: at(NOW), scope: 'models:tenant-a' }), { ok: true });
});

t.test('malformed', async (t) => {
  const token = encodeCursor(payload(), key);
  const bad = ['', 'abc', `${token}A`, token.slice(1), `${token.slice(0, -1)}=`, 'x'.repeat(1_000_000)];
  // Same length, but with characters outside base64url.
  bad.push(`${token.slice(0, 5)}+/${token.slice(7)}`);
  // Non-zero leftover bits in the last character: decodes to the same bytes, but is not our spelling.
  const last = token.at(-1)!;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const sibling = alphabet[alphabet.indexOf(last) ^ 1]!;
  bad.push(token.slice(0, -1) + sibling);
  for (const text of bad) {
    t.match(
      decodeCursor(text, key, { now: at(NOW) }),
      { ok: false, error: { kind: 'malformed' } },
      text.slice(0, 80),
    );
  }
});

t.test('expired, by the injected clock', async (t) => {
  const token = encodeCursor(payload({ expiresAt: NOW + 1000 }), key);
  t.match(decodeCursor(token, key, { now: at(NOW + 999) }), { ok: true });
  t.match(decodeCursor(token, key, { now: at(NOW + 1000) }), { ok: false, error: { kind: 'expired' } });
  t.match(decodeCursor(token, key, { now: at(NOW + 10_000_000) }), {
    error: { kind: 'expired', message: /expired/ },
  });
});

t.test('unknown snapshot when the store no longer holds it', async (t) => {
  const p = payload();
  const token = encodeCursor(p, key);
  t.match(decodeCursor(token, key, { now: at(NOW), snapshots: { has: () => false } }), {
    ok: false,
    error: { kind: 'unknown_snapshot', message: /no longer held/ },
  });
  t.match(decodeCursor(token, key, { now: at(NOW), snapshots: { has: (id) => id === p.snapshotId } }), {
    ok: true,
  });
});

t.test('encode refuses payloads Sluice could not have made', async (t) => {
  t.throws(() => encodeCursor(payload({ snapshotId: 'not-an-id' }), key), TypeError);
  t.throws(() => encodeCursor(payload({ offset: -1 }), key), RangeError);
  t.throws(() => encodeCursor(payload({ offset: 2 ** 32 }), key), RangeError);
  t.throws(() => encodeCursor(payload({ limit: 1.5 }), key), RangeError);
  t.throws(() => encodeCursor(payload({ expiresAt: 2 ** 48 }), key), RangeError);
});

t.test('cursorKey: the secret, or one random key per process', async (t) => {
  const secret = randomBytes(32);
  t.equal(cursorKey(secret), secret);
  const processKey = cursorKey();
  t.equal(processKey.length, 32);
  t.equal(cursorKey(), processKey, 'the same key for the whole process');
  t.notSame(processKey, secret);
});

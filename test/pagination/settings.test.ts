import t from 'tap';
import { paginationDefaults, resolvePaginationSettings } from '../../src/pagination/settings.ts';

t.test('defaults', async (t) => {
  const settings = resolvePaginationSettings();
  t.match(settings, {
    itemsPath: 'data',
    idField: 'id',
    maxLimit: 100,
    overLimit: 'clamp',
    snapshotTtlMs: 60_000,
    maxListBytes: 8 * 1024 * 1024,
    maxItems: 100_000,
    maxSnapshots: 1000,
  });
  t.equal(settings.defaultLimit, undefined);
  t.equal(settings.secret, undefined);
  t.ok(Object.isFrozen(settings));
  t.same(resolvePaginationSettings({ defaultLimit: 20 }).defaultLimit, 20);
  t.equal(paginationDefaults.maxLimit, 100);
});

t.test('bad values are refused with the field name', async (t) => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ itemsPath: 'a..b' }, /^itemsPath /],
    [{ itemsPath: '.data' }, /^itemsPath /],
    [{ idField: '' }, /^idField /],
    [{ maxLimit: 0 }, /^maxLimit /],
    [{ maxLimit: 1.5 }, /^maxLimit /],
    [{ defaultLimit: 0 }, /^defaultLimit /],
    [{ defaultLimit: 101 }, /^defaultLimit .*maxLimit \(100\)/],
    [{ overLimit: 'truncate' }, /^overLimit /],
    [{ snapshotTtlMs: 0 }, /^snapshotTtlMs /],
    [{ snapshotTtlMs: Number.NaN }, /^snapshotTtlMs /],
    [{ maxListBytes: -1 }, /^maxListBytes /],
    [{ maxItems: 0 }, /^maxItems /],
    [{ maxSnapshots: 0 }, /^maxSnapshots /],
    [{ maxListBytes: 2048, maxSnapshotBytes: 1024 }, /^maxSnapshotBytes .*maxListBytes \(2048\)/],
    [{ secret: Buffer.alloc(8) }, /^secret must be a Buffer of ≥ 16 bytes, got 8 bytes/],
  ];
  for (const [overrides, message] of cases) {
    t.throws(
      () => resolvePaginationSettings(overrides),
      { name: 'RangeError', message },
      JSON.stringify(overrides),
    );
  }
});

t.test('accepted edge values', async (t) => {
  t.equal(resolvePaginationSettings({ itemsPath: '' }).itemsPath, '');
  t.equal(resolvePaginationSettings({ itemsPath: 'result.models' }).itemsPath, 'result.models');
  t.equal(resolvePaginationSettings({ defaultLimit: 100 }).defaultLimit, 100);
  t.equal(resolvePaginationSettings({ secret: Buffer.alloc(32, 1) }).secret?.length, 32);
});

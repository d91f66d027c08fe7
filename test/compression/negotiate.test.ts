import t from 'tap';
import {
  type ContentCoding,
  Negotiator,
  negotiateEncoding,
  parseAcceptEncoding,
} from '../../src/compression/negotiate.ts';

t.test('choice table with the default preference (zstd, br, gzip)', async (t) => {
  const table: [string | undefined, string | undefined][] = [
    [undefined, 'identity'],
    ['', 'identity'],
    ['gzip', 'gzip'],
    ['gzip, deflate, br', 'br'],
    ['gzip, deflate, br, zstd', 'zstd'],
    ['GZIP', 'gzip'],
    ['  gzip ;  q=0.5 ,  br ; q=0.4 ', 'gzip'],
    ['gzip;q=1.0, br;q=1.0', 'br'],
    ['br;q=0.9, gzip', 'gzip'],
    ['zstd;q=0, br;q=0, gzip;q=0', 'identity'],
    ['x-gzip', 'gzip'],
    ['deflate', 'identity'],
    // `*` covers the codings the header does not name.
    ['*', 'zstd'],
    ['zstd;q=0, *', 'br'],
    ['*;q=0.1, gzip;q=0.5', 'gzip'],
    ['*;q=0', undefined],
    ['*;q=0, identity', 'identity'],
    ['*;q=0, gzip;q=0.2', 'gzip'],
    // identity competes only when named, and wins only with a strictly higher q.
    ['gzip;q=0.5, identity', 'identity'],
    ['gzip;q=0.5, identity;q=0.5', 'gzip'],
    ['gzip, identity;q=0', 'gzip'],
    ['deflate, identity;q=0', undefined],
    // Malformed weights drop their entry only.
    ['gzip;q=2, br', 'br'],
    ['gzip;q=abc', 'identity'],
    ['br;q=0.1234, gzip;q=0.5', 'gzip'],
    ['br;q=-1, gzip;q=0.5', 'gzip'],
    ['br;q=1.5', 'identity'],
    ['br;q=, gzip;q=0.001', 'gzip'],
    ['br;Q=0.9, gzip;q=0.5', 'br'],
    ['gz ip, br', 'br'],
    [',,, gzip ,', 'gzip'],
    ['br;level=3', 'br'],
    // A refusal anywhere wins over an acceptance of the same coding.
    ['br, br;q=0, gzip', 'gzip'],
  ];
  for (const [header, expected] of table) {
    t.equal(negotiateEncoding(header), expected, JSON.stringify(header));
  }
});

t.test('identity;q=0 alone leaves identity refused only when nothing else is acceptable', async (t) => {
  t.equal(negotiateEncoding('identity;q=0'), undefined);
  t.equal(negotiateEncoding('identity;q=0, gzip;q=0.1'), 'gzip');
});

t.test('a repeated header given as a list', async (t) => {
  t.equal(negotiateEncoding(['gzip;q=0.5', 'br;q=0.8']), 'br');
});

t.test('ties go to the route preference, and only offered codings are chosen', async (t) => {
  const gzipFirst = new Negotiator(['gzip', 'br']);
  t.equal(gzipFirst.negotiate('br, gzip, zstd'), 'gzip');
  t.equal(gzipFirst.negotiate('zstd'), 'identity');
  t.equal(gzipFirst.negotiate('br;q=0.8, gzip;q=0.7'), 'br');
  const none = new Negotiator([] as ContentCoding[]);
  t.equal(none.negotiate('gzip'), 'identity');
  t.equal(none.negotiate('*;q=0'), undefined);
});

t.test('parse keeps q-values and lower-cases codings', async (t) => {
  t.same(
    [...parseAcceptEncoding('GZip;q=0.5, br, *;q=0.001')],
    [
      ['gzip', 0.5],
      ['br', 1],
      ['*', 0.001],
    ],
  );
});

t.test('memo is bounded, skips long values, and answers the same as parsing', async (t) => {
  const negotiator = new Negotiator(['br', 'gzip'], 4);
  for (let i = 0; i < 10; i++) t.equal(negotiator.negotiate(`gzip;q=0.${i + 1}, br;q=0.05`), 'gzip');
  t.equal(negotiator.size, 4);
  t.equal(negotiator.negotiate('*;q=0'), undefined);
  t.equal(negotiator.negotiate('*;q=0'), undefined, 'a remembered refusal stays a refusal');
  const long = `${'x-custom;q=0.1, '.repeat(30)}gzip`;
  t.equal(negotiator.negotiate(long), 'gzip');
  t.equal(negotiator.size, 4);
});

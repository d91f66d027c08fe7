import t from 'tap';
import { estimateRetryAfterMs } from '../../src/concurrency/concurrency-types.ts';

t.test('Retry-After: queue drain time, within [1 s, 60 s]', async (t) => {
  t.equal(estimateRetryAfterMs(2000, 9, 10), 2000, '10 requests of 2 s over 10 slots');
  t.equal(estimateRetryAfterMs(2000, 39, 10), 8000);
  t.equal(estimateRetryAfterMs(50, 0, 10), 1000, 'never invites a retry within the second');
  t.equal(estimateRetryAfterMs(30_000, 500, 4), 60_000, 'never longer than a minute');
  t.equal(estimateRetryAfterMs(1500, 0, 0), 1500, 'a zero limit does not divide by zero');
});

import { PassThrough, type Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import t from 'tap';
import { Flight } from '../../src/cache/flight.ts';

const head = { status: 200, headers: { 'content-type': 'text/event-stream' } };
const tick = () => new Promise((resolve) => setImmediate(resolve));

t.test('every client gets the whole body, a late one from the first byte', async (t) => {
  const flight = new Flight('k', 1 << 20);
  const source = new PassThrough();
  flight.start(head, source);
  const early = flight.join()!;
  const earlyText = text(early);
  source.write('data: 1\n\n');
  source.write('data: 2\n\n');
  await tick();
  const late = flight.join()!;
  source.end('data: [DONE]\n\n');
  t.equal(await earlyText, 'data: 1\n\ndata: 2\n\ndata: [DONE]\n\n');
  t.equal(await text(late), 'data: 1\n\ndata: 2\n\ndata: [DONE]\n\n');
  const end = await flight.end;
  t.ok(end.complete);
  t.equal(end.complete && end.body.toString(), 'data: 1\n\ndata: 2\n\ndata: [DONE]\n\n');
  t.same(await flight.head, head);
});

t.test('one client leaving keeps the call going; the last one leaving aborts it', async (t) => {
  const flight = new Flight('k', 1 << 20);
  const source = new PassThrough();
  flight.start(head, source);
  const leader = flight.join()!;
  const follower = flight.join()!;
  const followerText = text(follower);
  source.write('a');
  leader.destroy();
  await tick();
  t.notOk(flight.upstreamAbort.signal.aborted, 'the follower still reads');
  source.end('b');
  t.equal(await followerText, 'ab');
  const other = new Flight('k2', 1 << 20);
  const otherSource = new PassThrough();
  other.start(head, otherSource);
  const only = other.join()!;
  only.destroy();
  await tick();
  t.ok(other.upstreamAbort.signal.aborted, 'nobody left: the upstream call is aborted');
  t.ok(otherSource.destroyed, 'and the transfer stopped');
  t.same(await other.end, { complete: false });
});

t.test('a failure before the head reaches every waiting client; a broken body is not complete', async (t) => {
  const flight = new Flight('k', 1 << 20);
  const waiting = flight.head;
  flight.fail(new Error('upstream_connect_failed'));
  await t.rejects(waiting, { message: 'upstream_connect_failed' });
  t.notOk(flight.joinable);
  const broken = new Flight('k', 1 << 20);
  const source = new PassThrough();
  broken.start(head, source);
  const reader = broken.join()!;
  const done = text(reader).catch((error: Error) => error.message);
  source.write('data: 1\n\n');
  await tick();
  source.destroy(new Error('reset'));
  t.equal(await done, 'reset');
  t.same(await broken.end, { complete: false });
});

t.test('past the recording limit nobody new may join, and the answer is not complete', async (t) => {
  const flight = new Flight('k', 8);
  const source = new PassThrough();
  flight.start(head, source);
  const reader: Readable = flight.join()!;
  const all = text(reader);
  source.write('0123456789');
  await tick();
  t.notOk(flight.joinable, 'the start is no longer kept');
  t.equal(flight.join(), undefined);
  source.end('abc');
  t.equal(await all, '0123456789abc', 'clients that joined in time still get everything');
  t.same(await flight.end, { complete: false });
});

t.test('a slow client sets the pace: the source pauses while it has no room', async (t) => {
  const flight = new Flight('k', 1 << 24);
  const source = new PassThrough({ highWaterMark: 16 });
  flight.start(head, source);
  const fast = flight.join()!;
  const slow = flight.join()!;
  fast.resume();
  const chunk = Buffer.alloc(64 * 1024);
  for (let i = 0; i < 8; i++) source.write(chunk);
  await tick();
  t.ok(source.isPaused(), 'paused for the slow client');
  const slowText = text(slow);
  source.end();
  t.equal((await slowText).length, 8 * 64 * 1024, 'then it gets everything');
});

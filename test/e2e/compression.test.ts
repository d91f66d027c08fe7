/**
 * Response compression and compressed request bodies end to end: real clients decode what Sluice
 * sends, SSE events still arrive one by one (lockstep with the upstream), nothing is compressed
 * twice, no-transform is honoured, and a zip bomb gets 413.
 */
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { brotliDecompressSync, createGunzip, gunzipSync, gzipSync, zstdDecompressSync } from 'node:zlib';
import t from 'tap';
import { request } from 'undici';
import { startMockBackend } from '../support/mock-backend.ts';
import { scrape, total } from '../support/scrape.ts';
import { singleRoute, startSluice } from '../support/sluice.ts';
import { signal, startUpstream } from '../support/upstream-server.ts';

const decoders = { gzip: gunzipSync, br: brotliDecompressSync, zstd: zstdDecompressSync } as const;

t.test('the models list in every coding the client accepts, decoded by the client', async (t) => {
  const mock = await startMockBackend(t, { models: 300 });
  const { url, adminUrl } = await startSluice(
    t,
    singleRoute(mock.url, 'openai', { route: { compression: {} } }),
  );
  const plain = await request(`${url}/v1/models`);
  const plainText = await plain.body.text();
  t.equal(plain.headers['content-encoding'], undefined, 'no Accept-Encoding: identity');
  t.ok(plainText.length > 10_000);
  for (const coding of ['gzip', 'br', 'zstd'] as const) {
    const res = await request(`${url}/v1/models`, {
      headers: { 'accept-encoding': `${coding}, identity;q=0.5` },
    });
    const bytes = Buffer.from(await res.body.arrayBuffer());
    t.equal(res.headers['content-encoding'], coding);
    t.match(res.headers.vary, /accept-encoding/i);
    t.ok(bytes.length < plainText.length / 3, `${coding}: ${bytes.length} of ${plainText.length} bytes`);
    t.same(
      JSON.parse(decoders[coding](bytes).toString()),
      JSON.parse(plainText),
      `${coding} decodes to the same list`,
    );
  }
  const preferred = await request(`${url}/v1/models`, {
    headers: { 'accept-encoding': 'gzip;q=0.5, br;q=0.9' },
  });
  t.equal(preferred.headers['content-encoding'], 'br', 'the highest q-value wins');
  await preferred.body.dump();
  const samples = await scrape(adminUrl);
  t.equal(total(samples, 'sluice_compression_responses_total', { route: 'main', result: 'gzip' }), 1);
  t.equal(total(samples, 'sluice_compression_responses_total', { route: 'main', result: 'not_accepted' }), 1);
  const into = total(samples, 'sluice_compression_bytes_total', { encoding: 'gzip', direction: 'in' });
  const out = total(samples, 'sluice_compression_bytes_total', { encoding: 'gzip', direction: 'out' });
  t.ok(into > 0 && out > 0 && out < into / 3, 'bytes in and out are counted');

  // Async: Sluice runs in this process, so a synchronous child would block it from answering.
  const curl = spawnSync('curl', ['--version']);
  if (curl.status === 0) {
    const { stdout } = await promisify(execFile)('curl', ['-s', '--compressed', `${url}/v1/models`]);
    t.same(JSON.parse(stdout), JSON.parse(plainText), 'curl --compressed decodes it');
  }
});

t.test('SSE: each compressed event reaches the client before the upstream writes the next', async (t) => {
  const events = 5;
  const received = Array.from({ length: events }, signal);
  const upstream = await startUpstream(t, async (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (let i = 0; i < events; i++) {
      res.write(`data: {"n":${i}}\n\n`);
      // Lockstep: an event held back in the compressor would never reach the client, and this would hang.
      await received[i]!.promise;
    }
    res.end('data: [DONE]\n\n');
  });
  const { url } = await startSluice(
    t,
    singleRoute(upstream, 'openai', { route: { compression: { min_bytes: 0 } } }),
  );
  const res = await request(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'accept-encoding': 'gzip' },
    body: '{"model":"m","stream":true}',
  });
  t.equal(res.headers['content-encoding'], 'gzip');
  const gunzip = createGunzip();
  res.body.pipe(gunzip);
  let text = '';
  let seen = 0;
  for await (const chunk of gunzip) {
    text += String(chunk);
    while (seen < events && text.includes(`data: {"n":${seen}}\n\n`)) received[seen++]!.resolve();
  }
  t.equal(seen, events, 'every event arrived on its own');
  t.match(text, /data: \[DONE\]\n\n$/);
});

t.test('never twice, no-transform honoured, small bodies left alone, ETag weakened', async (t) => {
  const big = JSON.stringify({ data: 'x'.repeat(5000) });
  const upstream = await startUpstream(t, (req, res) => {
    if (req.url === '/encoded') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(gzipSync(big));
    } else if (req.url === '/no-transform') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-transform' });
      res.end(big);
    } else if (req.url === '/small') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '2' });
      res.end('{}');
    } else {
      res.writeHead(200, { 'content-type': 'application/json', etag: '"v1"' });
      res.end(big);
    }
  });
  const { url } = await startSluice(t, singleRoute(upstream, 'passthrough', { route: { compression: {} } }));
  const get = async (path: string) => {
    const res = await request(`${url}${path}`, { headers: { 'accept-encoding': 'br, gzip' } });
    return { headers: res.headers, bytes: Buffer.from(await res.body.arrayBuffer()) };
  };
  const encoded = await get('/encoded');
  t.equal(encoded.headers['content-encoding'], 'gzip', 'the upstream’s encoding passes through');
  t.equal(gunzipSync(encoded.bytes).toString(), big, 'and is not encoded again');
  const untouched = await get('/no-transform');
  t.equal(untouched.headers['content-encoding'], undefined);
  t.equal(untouched.bytes.toString(), big);
  t.equal((await get('/small')).headers['content-encoding'], undefined, 'below min_bytes');
  const tagged = await get('/tagged');
  t.equal(tagged.headers['content-encoding'], 'br');
  t.equal(tagged.headers.etag, 'W/"v1"', 'a strong ETag is weakened: the bytes differ');
});

t.test('compressed request bodies: decoded for the upstream, a zip bomb gets 413, others 415', async (t) => {
  const mock = await startMockBackend(t);
  const bodies: { encoding: unknown; body: string }[] = [];
  mock.on('request', (info) =>
    bodies.push({ encoding: info.headers['content-encoding'], body: info.body.toString() }),
  );
  const { url } = await startSluice(t, {
    listener: { max_body_bytes: 1024 * 1024 },
    ...singleRoute(mock.url, 'openai', { route: { compression: { request_encodings: ['gzip'] } } }),
  });
  const chat = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  const send = async (body: Buffer, encoding: string) => {
    const res = await request(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': encoding },
      body,
    });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  };
  const ok = await send(gzipSync(chat), 'gzip');
  t.equal(ok.status, 200);
  t.same(bodies.at(-1), { encoding: undefined, body: chat }, 'the upstream gets the decoded body');

  const bomb = gzipSync(Buffer.alloc(20 * 1024 * 1024));
  t.ok(bomb.length < 64 * 1024, `a ${bomb.length}-byte bomb`);
  const refused = await send(bomb, 'gzip');
  t.equal(refused.status, 413, 'the limit applies to the decoded size');
  t.equal(refused.headers['x-sluice-error'], 'sluice_request_body_too_large');

  const other = await send(Buffer.from(chat), 'br');
  t.equal(other.status, 415);
  t.equal(other.headers['accept-encoding'], 'gzip');
  const broken = await send(Buffer.from('not gzip at all'), 'gzip');
  t.equal(broken.status, 400);
  t.equal(bodies.length, 1, 'none of the refused bodies reached the upstream');
});

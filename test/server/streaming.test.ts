/**
 * Bodies stream through Sluice both ways: an SSE event reaches the client before the upstream sends
 * the next, an upload reaches the upstream chunk by chunk, and a client that stops reading stops
 * the upstream through backpressure instead of filling Sluice's memory.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import t from 'tap';
import { request } from 'undici';
import { singleRoute, startSluice } from '../support/sluice.ts';
import { signal, startUpstream } from '../support/upstream-server.ts';

t.test(
  'SSE: each event reaches the client before the upstream writes the next',
  { timeout: 20_000 },
  async (t) => {
    const events = 5;
    const received = Array.from({ length: events }, signal);
    const upstream = await startUpstream(t, async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (let i = 0; i < events; i++) {
        res.write(`data: {"n":${i}}\n\n`);
        // Lockstep: if Sluice held an event back, the client would never see it and this would hang.
        await received[i]!.promise;
      }
      res.end('data: [DONE]\n\n');
    });
    const { url } = await startSluice(t, singleRoute(upstream, 'openai'));
    const res = await request(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"model":"m","stream":true}',
    });
    t.equal(res.statusCode, 200);
    let text = '';
    let seen = 0;
    for await (const chunk of res.body) {
      text += String(chunk);
      while (seen < events && text.includes(`data: {"n":${seen}}\n\n`)) received[seen++]!.resolve();
    }
    t.equal(seen, events, 'every event arrived on its own');
    t.match(text, /data: \[DONE\]\n\n$/);
  },
);

t.test('uploads stream to the upstream chunk by chunk (passthrough)', { timeout: 20_000 }, async (t) => {
  const chunks = 4;
  const arrived = Array.from({ length: chunks }, signal);
  const upstream = await startUpstream(t, (req, res) => {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      const whole = Math.floor(bytes / 1024);
      for (let i = 0; i < Math.min(whole, chunks); i++) arrived[i]!.resolve();
    });
    req.on('end', () => res.end(String(bytes)));
  });
  const { url } = await startSluice(t, singleRoute(upstream, 'passthrough'));
  // The next chunk is only produced once the upstream has the previous one: a buffering proxy deadlocks.
  const body = Readable.from(
    (async function* () {
      for (let i = 0; i < chunks; i++) {
        yield Buffer.alloc(1024, i);
        await arrived[i]!.promise;
      }
    })(),
  );
  const res = await request(`${url}/upload`, { method: 'PUT', body });
  t.equal(res.statusCode, 200);
  t.equal(await res.body.text(), String(chunks * 1024));
});

t.test(
  'a client that stops reading holds the upstream back (backpressure), then gets every byte',
  { timeout: 30_000 },
  async (t) => {
    const total = 64 * 1024 * 1024;
    const piece = Buffer.alloc(64 * 1024, 7);
    let written = 0;
    const upstreamHash = createHash('sha256');
    const upstream = await startUpstream(t, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total });
      const pump = () => {
        while (written < total) {
          written += piece.length;
          upstreamHash.update(piece);
          if (!res.write(piece)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const { url } = await startSluice(t, singleRoute(upstream, 'passthrough'));
    const res = await request(`${url}/download`, { highWaterMark: 64 * 1024 });
    t.equal(res.statusCode, 200);
    res.body.pause();
    await new Promise((r) => setTimeout(r, 1000));
    t.ok(
      written < total / 4,
      `while the client does not read, the upstream wrote ${(written / 1048576).toFixed(1)} MiB of 64 MiB`,
    );
    const clientHash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of res.body) {
      bytes += (chunk as Buffer).length;
      clientHash.update(chunk as Buffer);
    }
    t.equal(bytes, total, 'every byte arrived');
    t.equal(clientHash.digest('hex'), upstreamHash.digest('hex'), 'the bytes are the upstream bytes');
  },
);

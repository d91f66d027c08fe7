import t from 'tap';
import { request } from 'undici';
import { ResponseObserver } from '../../src/llm/response-observer.ts';
import { UsageChunkStripper, withIncludeUsage } from '../../src/llm/stream-usage.ts';
import { startMockBackend, withoutPerRequestFields } from '../support/mock-backend.ts';

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

/** Runs `chunks` through a stripper: what the client gets and what `observe` saw. */
async function strip(chunks: Buffer[]): Promise<{ out: Buffer; observed: Buffer }> {
  const observed: Buffer[] = [];
  const stripper = new UsageChunkStripper((chunk) => observed.push(chunk));
  const out = stripper.toArray();
  for (const chunk of chunks) stripper.write(chunk);
  stripper.end();
  return { out: Buffer.concat(await out), observed: Buffer.concat(observed) };
}

const stripText = async (text: string) => (await strip([Buffer.from(text)])).out.toString();

const usage = '{"prompt_tokens":5,"completion_tokens":4,"total_tokens":9}';

/** A chat stream shaped like src/mock-llm/openai.ts's, with and without include_usage. */
function chatStream(withUsage: boolean, eol = '\n'): Buffer {
  const prefix =
    'data: {"id":"chatcmpl-mock-7","object":"chat.completion.chunk","created":1700000000,' +
    '"model":"gpt-4o-mini","system_fingerprint":"fp_sluice_mock","choices":';
  const suffix = withUsage ? ',"usage":null}' : '}';
  const choices = [
    '{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}',
    ...['Rivers', ' café', ' 🌊', ' say \\"usage\\":null'].map(
      (token) => `{"index":0,"delta":{"content":"${token}"},"logprobs":null,"finish_reason":null}`,
    ),
    '{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}',
  ];
  const events = choices.map((choice) => `${prefix}[${choice}]${suffix}`);
  if (withUsage) events.push(`${prefix}[],"usage":${usage}}`);
  events.push('data: [DONE]');
  return Buffer.from(events.map((event) => `${event}${eol}${eol}`).join(''));
}

t.test('withIncludeUsage asks for usage only when there is something to ask', async (t) => {
  const rewrite = (body: unknown) => withIncludeUsage(json(body))?.toString();
  t.equal(
    rewrite({ model: 'm', stream: true, messages: [] }),
    '{"model":"m","stream":true,"messages":[],"stream_options":{"include_usage":true}}',
  );
  t.equal(
    rewrite({ stream: true, stream_options: { continuous_usage_stats: true }, n: 1 }),
    '{"stream":true,"stream_options":{"continuous_usage_stats":true,"include_usage":true},"n":1}',
    'other stream_options kept, key order kept',
  );
  t.equal(
    rewrite({ stream: true, stream_options: { include_usage: false, x: 1 } }),
    '{"stream":true,"stream_options":{"include_usage":true,"x":1}}',
  );
  t.equal(
    rewrite({ stream: true, stream_options: null }),
    '{"stream":true,"stream_options":{"include_usage":true}}',
  );
  t.equal(rewrite({ stream: true, stream_options: { include_usage: true } }), undefined, 'already asked');
  t.equal(rewrite({ stream: false }), undefined, 'not streaming');
  t.equal(rewrite({ model: 'm' }), undefined, 'stream absent');
  t.equal(rewrite({ stream: 'true' }), undefined, 'stream not exactly true');
  t.equal(rewrite({ stream: true, stream_options: 'x' }), undefined, 'odd stream_options left to upstream');
  t.equal(rewrite([{ stream: true }]), undefined, 'not an object');
  t.equal(withIncludeUsage(Buffer.from('{"stream":true,')), undefined, 'invalid JSON');
  t.equal(withIncludeUsage(Buffer.from([0x7b, 0xff, 0x7d])), undefined, 'invalid UTF-8');
});

t.test('a stream asked for usage reaches the client as if it had not been', async (t) => {
  for (const eol of ['\n', '\r\n', '\r']) {
    const name = JSON.stringify(eol);
    const upstream = chatStream(true, eol);
    const expected = chatStream(false, eol);
    const whole = await strip([upstream]);
    t.same(whole.out, expected, `${name}: one chunk`);
    t.same(whole.observed, upstream, `${name}: observe sees the upstream bytes`);
    const bytes = [...upstream].map((byte) => Buffer.from([byte]));
    t.same((await strip(bytes)).out, expected, `${name}: byte by byte`);
    let splits = 0;
    for (let at = 0; at <= upstream.length; at++) {
      const split = await strip([upstream.subarray(0, at), upstream.subarray(at)]);
      if (split.out.equals(expected) && split.observed.equals(upstream)) splits++;
      else t.fail(`${name}: split at ${at}`, { found: split.out.toString(), wanted: expected.toString() });
    }
    t.equal(splits, upstream.length + 1, `${name}: split at every byte`);
  }
});

t.test('the mock asked for usage by withIncludeUsage, stripped, matches the mock not asked', async (t) => {
  const mock = await startMockBackend(t, { tokens: 12 });
  const post = async (path: string, body: Buffer) => {
    const res = await request(`${mock.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    return Buffer.from(await res.body.arrayBuffer());
  };
  const bodies = {
    '/v1/chat/completions': {
      model: 'gpt-4o-mini',
      stream: true,
      messages: [{ role: 'user', content: 'Hi' }],
    },
    '/v1/completions': { model: 'gpt-3.5-turbo-instruct', stream: true, prompt: 'Once' },
  };
  for (const [path, body] of Object.entries(bodies)) {
    const plain = await post(path, json(body));
    const asked = withIncludeUsage(json(body));
    if (!asked) throw new Error('no rewrite');
    const upstream = await post(path, asked);
    t.match(upstream.toString(), '"usage":{"prompt_tokens"', `${path}: upstream reported usage`);
    const { out, observed } = await strip([upstream]);
    t.equal(withoutPerRequestFields(out.toString()), withoutPerRequestFields(plain.toString()), path);
    const observer = new ResponseObserver(
      'openai',
      path.endsWith('chat/completions') ? 'chat' : 'text_completion',
      true,
    );
    observer.observe(observed);
    t.ok(observer.finish().usage?.output, `${path}: usage seen`);
  }
});

t.test('usage chunks are dropped wherever they are', async (t) => {
  const text = [
    'data: {"id":"a","choices":[{"index":0}],"usage":null}',
    `data: {"id":"u","choices":[],"usage":${usage}}`,
    'data: {"id":"b","choices":[{"index":0}],"usage":null}',
    'data: [DONE]',
    '',
  ].join('\n\n');
  t.equal(
    await stripText(text),
    'data: {"id":"a","choices":[{"index":0}]}\n\ndata: {"id":"b","choices":[{"index":0}]}\n\ndata: [DONE]\n\n',
  );
  const kept = `data: {"choices":[{"index":0}],"usage":${usage}}\n\ndata: {"choices":[],"usage":[1]}\n\n`;
  t.equal(await stripText(kept), kept, 'usage beside choices, or not an object: not a usage chunk');
});

t.test('"usage":null is cut wherever it is a top-level member, and only there', async (t) => {
  const cases: [string, string, string][] = [
    ['first member', '{"usage":null,"id":"a"}', '{"id":"a"}'],
    ['last member', '{"id":"a","usage":null}', '{"id":"a"}'],
    ['middle member', '{"id":"a","usage":null,"n":1}', '{"id":"a","n":1}'],
    ['only member', '{"usage":null}', '{}'],
    ['spaced', '{"id": "a", "usage": null}', '{"id": "a"}'],
    ['spaced, first', '{"usage": null, "id": "a"}', '{"id": "a"}'],
    ['nested one kept', '{"usage":null,"meta":{"usage":null}}', '{"meta":{"usage":null}}'],
    ['text in a key kept', '{"usage":null,"x\\"usage":null}', '{"x\\"usage":null}'],
    ['text in a string kept', '{"usage":null,"c":"\\"usage\\":null"}', '{"c":"\\"usage\\":null"}'],
    ['text in a string, no member', '{"c":"\\"usage\\":null"}', '{"c":"\\"usage\\":null"}'],
    ['usage written twice', '{"usage":null,"usage":null}', '{"usage":null,"usage":null}'],
    ['usage not null', '{"usage":0,"id":"a"}', '{"usage":0,"id":"a"}'],
    ['malformed JSON', '{"id":"a","usage":null', '{"id":"a","usage":null'],
  ];
  for (const [name, data, expected] of cases) {
    t.equal(await stripText(`data: ${data}\n\n`), `data: ${expected}\n\n`, name);
  }
  const event = 'event: x\nid: 1\n: comment "usage":null\ndata:{"id":"a","usage":null}\n\n';
  t.equal(
    await stripText(event),
    'event: x\nid: 1\n: comment "usage":null\ndata:{"id":"a"}\n\n',
    'fields kept',
  );
  const multiline = 'data: {"id":"a",\ndata: "usage":null}\n\n';
  t.equal(await stripText(multiline), multiline, 'a cut that would break the JSON is not made');
});

t.test('bytes that are not UTF-8 pass through unchanged', async (t) => {
  const bad = Buffer.from([0xff, 0xfe, 0xc3]);
  const event = (usageNull: boolean) =>
    Buffer.concat([
      Buffer.from('data: {"c":"'),
      bad,
      Buffer.from(usageNull ? '","usage":null}\n\n' : '"}\n\n'),
      bad,
      Buffer.from('\n\n'),
    ]);
  t.same((await strip([event(true)])).out, event(false));
});

t.test('a stream cut off mid-event ends with the partial event as it came', async (t) => {
  const head = 'data: {"id":"a","usage":null}\n\n';
  for (const tail of [
    'data: {"choices":[],"usage":{"prompt_tokens":1',
    'data: {"id":"b","usage":null}\n',
    'data',
  ]) {
    t.equal(await stripText(head + tail), `data: {"id":"a"}\n\n${tail}`, JSON.stringify(tail));
  }
});

t.test('a complete event leaves with the chunk that completed it', async (t) => {
  const stripper = new UsageChunkStripper(() => {});
  const read = () => String(stripper.read() ?? '');
  stripper.write(Buffer.from('data: {"id":"a","usage":null}\n\ndata: {"id":'));
  t.equal(read(), 'data: {"id":"a"}\n\n', 'the complete event, not the partial one');
  stripper.write(Buffer.from('"b","usage":null}\n'));
  t.equal(read(), '', 'no blank line yet');
  stripper.write(Buffer.from('\n'));
  t.equal(read(), 'data: {"id":"b"}\n\n');
  stripper.write(Buffer.from('data: {"id":"c","usage":null}\r\r'));
  t.equal(read(), 'data: {"id":"c"}\r\r', 'a CR ending the blank line is not held for a possible LF');
  stripper.write(Buffer.from('\n'));
  t.equal(read(), '\n', 'an LF after it still goes out');
  stripper.write(Buffer.from(`data: {"choices":[],"usage":${usage}}\r\n\r`));
  t.equal(read(), '', 'usage chunk dropped');
  stripper.write(Buffer.from('\ndata: [DONE]\r\n\r\n'));
  t.equal(read(), 'data: [DONE]\r\n\r\n', 'the rest of its line break dropped with it');
});

/** The LLM response cache and single-flight, end to end through the official SDKs and raw HTTP. */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import t, { type Test } from 'tap';
import { request } from 'undici';
import { startMockBackend } from '../support/mock-backend.ts';
import { startSluice } from '../support/sluice.ts';

const chatBody = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'cache me' }], temperature: 0 };

async function setup(t: Test, routeExtra: Record<string, unknown> = {}) {
  const mock = await startMockBackend(t);
  const sluice = await startSluice(t, {
    telemetry: { access_log: true },
    upstreams: { llm: { url: mock.url } },
    routes: [
      {
        name: 'anthropic',
        upstream: 'llm',
        protocol: 'anthropic',
        match: { path_prefix: '/v1/messages' },
        cache: { ttl_seconds: 60 },
      },
      { name: 'chat', upstream: 'llm', protocol: 'openai', cache: { ttl_seconds: 60 }, ...routeExtra },
    ],
  });
  return { mock, sluice };
}

async function post(url: string, body: string, headers: Record<string, string> = {}) {
  const response = await request(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer key-a', ...headers },
    body,
  });
  return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
}

t.test(
  'a JSON answer is stored and served again: HIT with Age, byte for byte, one upstream call',
  async (t) => {
    const { mock, sluice } = await setup(t);
    const first = await post(sluice.url, JSON.stringify(chatBody));
    t.equal(first.headers['x-sluice-cache'], 'MISS');
    // Key order and whitespace do not matter.
    const reordered = `{ "temperature": 0, "messages": [{"content": "cache me", "role": "user"}], "model": "gpt-4o-mini" }`;
    const second = await post(sluice.url, reordered);
    t.equal(second.headers['x-sluice-cache'], 'HIT');
    t.match(second.headers['age'], /^\d+$/);
    t.equal(second.text, first.text, 'the same bytes');
    t.equal(mock.stats.byPath['/v1/chat/completions']?.started, 1, 'one upstream call');
    const changed = await post(sluice.url, JSON.stringify({ ...chatBody, temperature: 0.5 }));
    t.equal(changed.headers['x-sluice-cache'], 'MISS', 'another parameter: another entry');
    const accessLines = () => sluice.logs.filter((line) => line['msg'] === 'request');
    // A line is written when the server's side of the exchange closes, just after the client read it.
    for (let waited = 0; accessLines().length < 3 && waited < 2000; waited += 10)
      await new Promise((resolve) => setTimeout(resolve, 10));
    const statuses = accessLines().map((line) => line['cache']);
    t.same(statuses, ['MISS', 'HIT', 'MISS'], 'the access log says how each was answered');
  },
);

t.test('tenants never share an entry', async (t) => {
  const { mock, sluice } = await setup(t);
  await post(sluice.url, JSON.stringify(chatBody), { authorization: 'Bearer key-a' });
  const other = await post(sluice.url, JSON.stringify(chatBody), { authorization: 'Bearer key-b' });
  t.equal(other.headers['x-sluice-cache'], 'MISS');
  t.equal(mock.stats.byPath['/v1/chat/completions']?.started, 2);
});

t.test(
  'a stream hit is byte-identical to the stream that was stored, through the OpenAI SDK too',
  async (t) => {
    const { mock, sluice } = await setup(t);
    const body = JSON.stringify({ ...chatBody, stream: true });
    const first = await post(sluice.url, body);
    t.equal(first.headers['x-sluice-cache'], 'MISS');
    const second = await post(sluice.url, body);
    t.equal(second.headers['x-sluice-cache'], 'HIT');
    t.equal(second.text, first.text, 'every event and field kept');
    t.match(second.headers['content-type'], /text\/event-stream/);
    // The SDK sends its own accept-encoding, part of the key: its requests are an entry of their own.
    const client = new OpenAI({ baseURL: `${sluice.url}/v1`, apiKey: 'key-a', maxRetries: 0 });
    const viaSdk = async () => {
      const { data: stream, response } = await client.chat.completions
        .create({
          model: chatBody.model,
          messages: [{ role: 'user', content: 'cache me' }],
          temperature: 0,
          stream: true,
        })
        .withResponse();
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      return { text, cache: response.headers.get('x-sluice-cache') };
    };
    const fresh = await viaSdk();
    const replayed = await viaSdk();
    t.equal(replayed.cache, 'HIT');
    t.ok(replayed.text.length > 0 && replayed.text === fresh.text, 'the SDK reads the replayed stream');
    t.equal(mock.stats.byPath['/v1/chat/completions']?.started, 2);
  },
);

t.test('Anthropic streams are cached after message_stop', async (t) => {
  const { mock, sluice } = await setup(t);
  const client = new Anthropic({ baseURL: sluice.url, apiKey: 'key-a', maxRetries: 0 });
  const ask = async () => {
    const stream = client.messages.stream({
      model: 'claude-sonnet-4-5',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'hi' }],
    });
    return (await stream.finalMessage()).content;
  };
  const first = await ask();
  const second = await ask();
  t.same(second, first);
  t.equal(mock.stats.byPath['/v1/messages']?.started, 1);
});

t.test('errors, interrupted streams and no-store requests are never stored', async (t) => {
  const { mock, sluice } = await setup(t);
  const body = JSON.stringify(chatBody);
  const failed = await post(sluice.url, body, { 'x-mock-status': '500' });
  t.equal(failed.status, 500);
  const afterError = await post(sluice.url, body);
  t.equal(afterError.headers['x-sluice-cache'], 'MISS', 'the error was not stored');
  const stream = JSON.stringify({ ...chatBody, stream: true, temperature: 0.1 });
  await post(sluice.url, stream, { 'x-mock-reset-after': '3' }).catch(() => undefined);
  const afterCut = await post(sluice.url, stream);
  t.equal(afterCut.headers['x-sluice-cache'], 'MISS', 'the truncated stream was not stored');
  const bypass = await post(sluice.url, JSON.stringify({ ...chatBody, temperature: 0.2 }), {
    'cache-control': 'no-store',
  });
  t.equal(bypass.headers['x-sluice-cache'], 'BYPASS');
  const afterBypass = await post(sluice.url, JSON.stringify({ ...chatBody, temperature: 0.2 }));
  t.equal(afterBypass.headers['x-sluice-cache'], 'MISS', 'no-store was not stored');
  const refreshed = await post(sluice.url, body, { 'x-sluice-cache': 'refresh' });
  t.equal(refreshed.headers['x-sluice-cache'], 'MISS', 'refresh goes upstream');
  t.ok((mock.stats.byPath['/v1/chat/completions']?.started ?? 0) >= 6);
});

t.test(
  '100 identical concurrent requests: one upstream call, 100 identical answers (JSON and SSE)',
  async (t) => {
    const { mock, sluice } = await setup(t);
    for (const stream of [false, true]) {
      const before = mock.stats.byPath['/v1/chat/completions']?.started ?? 0;
      const body = JSON.stringify({
        ...chatBody,
        stream,
        messages: [{ role: 'user', content: `burst ${stream}` }],
      });
      // The mock holds the answer back, so every request arrives while the first is in flight.
      const answers = await Promise.all(
        Array.from({ length: 100 }, () =>
          post(sluice.url, body, { 'x-mock-latency-ms': '500', 'x-mock-gap-ms': '5' }),
        ),
      );
      t.equal(
        (mock.stats.byPath['/v1/chat/completions']?.started ?? 0) - before,
        1,
        `stream ${stream}: one call`,
      );
      t.equal(new Set(answers.map((answer) => answer.text)).size, 1, `stream ${stream}: identical answers`);
      const statuses = answers.map((answer) => answer.headers['x-sluice-cache']);
      t.equal(statuses.filter((status) => status === 'MISS').length, 1, 'one leader');
      // Under load a late request can arrive after the answer was stored: a HIT, still no second call.
      t.equal(
        statuses.filter((status) => status === 'COALESCED' || status === 'HIT').length,
        99,
        '99 followers (or hits)',
      );
      t.ok(statuses.filter((status) => status === 'COALESCED').length > 0, 'coalesced while in flight');
    }
  },
);

t.test(
  'a follower that joins mid-stream gets the stream from its start; the leader leaving does not stop it',
  async (t) => {
    const { sluice } = await setup(t);
    const body = JSON.stringify({
      ...chatBody,
      stream: true,
      messages: [{ role: 'user', content: 'mid-stream' }],
    });
    const headers = {
      'content-type': 'application/json',
      authorization: 'Bearer key-a',
      'x-mock-gap-ms': '30',
    };
    const abort = new AbortController();
    const leader = await request(`${sluice.url}/v1/chat/completions`, {
      method: 'POST',
      headers,
      body,
      signal: abort.signal,
    });
    t.equal(leader.headers['x-sluice-cache'], 'MISS');
    // Let a few events pass, then a follower joins and the leader's client leaves.
    const firstBytes = await new Promise<Buffer>((resolve) => leader.body.once('data', resolve));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const follower = await request(`${sluice.url}/v1/chat/completions`, { method: 'POST', headers, body });
    abort.abort();
    leader.body.on('error', () => undefined);
    t.equal(follower.headers['x-sluice-cache'], 'COALESCED');
    const text = await follower.body.text();
    t.ok(text.startsWith(firstBytes.toString()), 'from the first byte');
    t.match(text, /data: \[DONE\]\n\n$/, 'to the end');
    const replay = await post(sluice.url, body);
    t.equal(replay.headers['x-sluice-cache'], 'HIT', 'and it was stored');
    t.equal(replay.text, text);
  },
);

t.test(
  'a leader that fails before answering: followers get its error, or retry once with follower_retry',
  async (t) => {
    for (const followerRetry of [false, true]) {
      const { mock, sluice } = await setup(t, { cache: { ttl_seconds: 60, follower_retry: followerRetry } });
      const body = JSON.stringify({
        ...chatBody,
        messages: [{ role: 'user', content: `leader fails ${followerRetry}` }],
      });
      // The fault headers are not part of the key: the followers join the leader's call.
      const leader = post(sluice.url, body, {
        'x-mock-latency-ms': '300',
        'x-mock-reset-after': 'before-headers',
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const followers = await Promise.all(Array.from({ length: 5 }, () => post(sluice.url, body)));
      const first = await leader;
      t.equal(first.status, 502, 'the leader gets the upstream failure');
      const statuses = followers.map((answer) => answer.status);
      if (followerRetry) {
        t.same(
          statuses,
          [200, 200, 200, 200, 200],
          'follower_retry: the followers answer from their own call',
        );
        t.equal(mock.stats.byPath['/v1/chat/completions']?.started, 2, 'one retry call, shared');
      } else {
        t.same(statuses, [502, 502, 502, 502, 502], 'the followers get the same error');
        t.equal(mock.stats.byPath['/v1/chat/completions']?.started, 1);
      }
    }
  },
);

import t from 'tap';
import { jsonIsComplete, streamIsComplete } from '../../src/cache/stream-complete.ts';

const sse = (events: string[], eol = '\n') =>
  Buffer.from(events.map((event) => `${event.replaceAll('\n', eol)}${eol}${eol}`).join(''));

const chunk = (text: string) =>
  `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"${text}"},"finish_reason":null}]}`;
const chatEvents = (tokens: number) => [
  ...Array.from({ length: tokens }, (_, i) => chunk(`token ${i}`)),
  'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}',
  'data: [DONE]',
];

const anthropicEvents = [
  'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1"}}',
  'event: content_block_start\ndata: {"type":"content_block_start","index":0}',
  'event: ping\ndata: {"type": "ping"}',
  'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}',
  'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}',
  'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"}}',
  'event: message_stop\ndata: {"type":"message_stop"}',
];

const responsesEvent = (type: string, response: Record<string, unknown> = {}, named = true) =>
  `${named ? `event: ${type}\n` : ''}data: ${JSON.stringify({ type, sequence_number: 9, response: { id: 'resp_1', ...response } })}`;
const responsesEvents = (last: string) => [
  responsesEvent('response.created'),
  'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"Hi"}',
  last,
];

t.test('OpenAI chat: [DONE] after the chunks, with any line ending and trailing blank lines', async (t) => {
  for (const eol of ['\n', '\r\n', '\r']) {
    t.ok(streamIsComplete('openai', sse(chatEvents(3), eol)), JSON.stringify(eol));
    t.ok(streamIsComplete('openai', Buffer.concat([sse(chatEvents(3), eol), Buffer.from(eol.repeat(3))])));
  }
  t.ok(
    streamIsComplete('openai', Buffer.from(`${chunk('a')}\n\ndata:[DONE]\n\n`)),
    'no space after the colon',
  );
  t.ok(streamIsComplete('openai', sse([...chatEvents(2), ': keep-alive'])), 'a comment after [DONE]');
});

t.test('OpenAI chat: anything short of a dispatched [DONE] is not complete', async (t) => {
  const whole = sse(chatEvents(3));
  t.notOk(streamIsComplete('openai', Buffer.alloc(0)), 'empty');
  t.notOk(streamIsComplete('openai', sse(chatEvents(3).slice(0, -1))), 'no [DONE]');
  t.notOk(
    streamIsComplete('openai', whole.subarray(0, whole.length - 1)),
    '[DONE] not followed by a blank line',
  );
  t.notOk(streamIsComplete('openai', whole.subarray(0, whole.length - 4)), 'cut inside [DONE]');
  t.notOk(streamIsComplete('openai', sse([...chatEvents(2), chunk('late')])), 'an event after [DONE]');
  t.notOk(streamIsComplete('openai', sse(['data: [DONE]'])), '[DONE] and nothing else');
  for (let cut = 0; cut < whole.length - 1; cut += 7) {
    t.notOk(streamIsComplete('openai', whole.subarray(0, cut)), `cut at ${cut}`);
  }
});

t.test('OpenAI chat: an error reported in-stream before [DONE] is not an answer', async (t) => {
  const vllmError = 'data: {"error":{"message":"engine dead","type":"InternalServerError","code":500}}';
  const oldVllmError =
    'data: {"object":"error","message":"engine dead","type":"InternalServerError","code":500}';
  t.notOk(streamIsComplete('openai', sse([chunk('a'), vllmError, 'data: [DONE]'])));
  t.notOk(streamIsComplete('openai', sse([chunk('a'), oldVllmError, 'data: [DONE]'])));
  t.notOk(streamIsComplete('openai', sse([chunk('a'), 'event: error\ndata: {}', 'data: [DONE]'])));
  t.ok(
    streamIsComplete('openai', sse([chunk('an error, my dear Watson'), 'data: [DONE]'])),
    'text about errors',
  );
  t.ok(streamIsComplete('openai', sse([`${chunk('a').slice(0, -1)},"error":null}`, 'data: [DONE]'])));
});

t.test('long streams: only the tail matters, wherever the window edge falls', async (t) => {
  const long = sse(chatEvents(40_000));
  t.ok(long.length > 4 * 1024 * 1024, `${long.length} bytes`);
  t.ok(streamIsComplete('openai', long));
  t.notOk(streamIsComplete('openai', long.subarray(0, long.length - 3)));
  // Bodies a few bytes either side of 64 KiB, so the window's first byte lands on every position of
  // an event and of its CRLF line ends.
  for (const eol of ['\n', '\r\n']) {
    for (let pad = 0; pad < 24; pad++) {
      const events = [`: ${'x'.repeat(pad)}`, ...chatEvents(500)];
      const body = sse(events, eol);
      t.ok(body.length > 64 * 1024);
      t.ok(streamIsComplete('openai', body), `pad ${pad} ${JSON.stringify(eol)}`);
      t.notOk(streamIsComplete('openai', sse(events.slice(0, -1), eol)));
    }
  }
});

t.test('OpenAI Responses: response.completed is complete, failures are not', async (t) => {
  t.ok(streamIsComplete('openai', sse(responsesEvents(responsesEvent('response.completed')))));
  t.ok(streamIsComplete('openai', sse(responsesEvents(responsesEvent('response.completed')), '\r\n')));
  t.ok(
    streamIsComplete('openai', sse(responsesEvents(responsesEvent('response.completed', {}, false)))),
    'no event field: the data type decides',
  );
  t.notOk(streamIsComplete('openai', sse(responsesEvents(responsesEvent('response.failed')))));
  t.notOk(
    streamIsComplete('openai', sse(responsesEvents('event: error\ndata: {"type":"error","code":"x"}'))),
  );
  t.notOk(streamIsComplete('openai', sse(responsesEvents(responsesEvent('response.output_text.done')))));
  const completed = sse(responsesEvents(responsesEvent('response.completed')));
  t.notOk(streamIsComplete('openai', completed.subarray(0, completed.length - 2)), 'not dispatched');
});

t.test('OpenAI Responses: response.incomplete only when the request’s own token limit cut it', async (t) => {
  const cut = (reason: string, named = true) =>
    sse(responsesEvents(responsesEvent('response.incomplete', { incomplete_details: { reason } }, named)));
  t.ok(streamIsComplete('openai', cut('max_output_tokens')));
  t.ok(streamIsComplete('openai', cut('max_output_tokens', false)));
  t.notOk(streamIsComplete('openai', cut('content_filter')));
  t.notOk(streamIsComplete('openai', sse(responsesEvents(responsesEvent('response.incomplete')))));
});

t.test(
  'OpenAI Responses with a [DONE] appended by a gateway: the Responses event still decides',
  async (t) => {
    const withDone = (last: string) => sse([...responsesEvents(last), 'data: [DONE]']);
    t.ok(streamIsComplete('openai', withDone(responsesEvent('response.completed'))));
    t.notOk(streamIsComplete('openai', withDone(responsesEvent('response.failed'))));
    t.notOk(streamIsComplete('openai', withDone(responsesEvent('response.failed', {}, false))));
    t.notOk(
      streamIsComplete(
        'openai',
        withDone(responsesEvent('response.incomplete', { incomplete_details: { reason: 'content_filter' } })),
      ),
    );
  },
);

t.test('OpenAI Responses: a final event larger than the tail window', async (t) => {
  const output = [{ type: 'message', content: [{ type: 'output_text', text: 'word '.repeat(100_000) }] }];
  const events = responsesEvents(responsesEvent('response.completed', { output }));
  t.ok(events.at(-1)!.length > 256 * 1024);
  t.ok(streamIsComplete('openai', sse(events)));
  t.ok(streamIsComplete('openai', sse(events, '\r\n')));
  const body = sse(events);
  t.notOk(streamIsComplete('openai', body.subarray(0, body.length - 1)));
  t.notOk(streamIsComplete('openai', body.subarray(0, body.length - 1000)));
});

t.test('Anthropic: message_stop, by its event name', async (t) => {
  t.ok(streamIsComplete('anthropic', sse(anthropicEvents)));
  t.ok(streamIsComplete('anthropic', sse(anthropicEvents, '\r\n')));
  t.notOk(streamIsComplete('anthropic', sse(anthropicEvents.slice(0, -1))), 'ends at message_delta');
  t.notOk(
    streamIsComplete(
      'anthropic',
      sse([...anthropicEvents.slice(0, 4), 'event: error\ndata: {"type":"error"}']),
    ),
  );
  t.notOk(
    streamIsComplete('anthropic', sse([...anthropicEvents.slice(0, -1), 'data: {"type":"message_stop"}'])),
  );
  const whole = sse(anthropicEvents);
  t.notOk(streamIsComplete('anthropic', whole.subarray(0, whole.length - 1)));
});

t.test('each protocol’s terminal event counts for that protocol only', async (t) => {
  t.notOk(streamIsComplete('anthropic', sse(chatEvents(2))));
  t.notOk(streamIsComplete('openai', sse(anthropicEvents)));
});

t.test('jsonIsComplete: one whole JSON value', async (t) => {
  t.ok(jsonIsComplete(Buffer.from('{"id":"chatcmpl-1","choices":[{"message":{"content":"café 🌊"}}]}')));
  t.ok(jsonIsComplete(Buffer.from(' \n[1,2]\n')));
  t.notOk(jsonIsComplete(Buffer.alloc(0)));
  t.notOk(jsonIsComplete(Buffer.from('{"id":"chatcmpl-1","choices":[')));
  t.notOk(jsonIsComplete(Buffer.from('{}{}')));
  t.notOk(jsonIsComplete(Buffer.from([0x22, 0xff, 0x22])), 'not UTF-8');
  t.notOk(jsonIsComplete(Buffer.from('data: [DONE]\n\n')));
});

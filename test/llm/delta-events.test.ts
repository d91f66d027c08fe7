import t from 'tap';
import { classifyDelta } from '../../src/llm/delta-events.ts';
import { ResponseObserver } from '../../src/llm/response-observer.ts';

const chat = (data: string, modelKnown = true, singleChoice = false) =>
  classifyDelta('openai', 'chat', data, { modelKnown, singleChoice });
const known = { modelKnown: true, singleChoice: false };
const unknown = { modelKnown: false, singleChoice: false };

t.test(
  'OpenAI chunks: token deltas are skipped, anything that may end a choice or carry usage is parsed',
  async (t) => {
    t.equal(
      chat('{"id":"c","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}'),
      'token',
    );
    t.equal(
      chat('{"id": "c", "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": null}]}'),
      'token',
      'json.dumps spacing',
    );
    t.equal(
      chat('{"choices":[{"delta":{"role":"assistant","content":""},"finish_reason":null}]}'),
      'no-token',
      'empty content',
    );
    t.equal(
      chat('{"choices":[{"text":"word","index":0,"finish_reason":null}]}'),
      'token',
      'legacy completions',
    );
    t.equal(
      chat('{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"a"}}]}}]}'),
      'token',
      'tool call',
    );
    t.same(
      chat('{"choices":[{"delta":{},"finish_reason":"stop"}]}'),
      { finishReason: 'stop', token: false },
      'finish reason, read from the text',
    );
    t.equal(chat('{"choices":[{"delta":{}, "finish_reason" : "length"}]}'), 'parse', 'finish reason, spaced');
    t.equal(chat('{"choices":[],"usage":{"prompt_tokens":3}}'), 'parse', 'usage chunk');
    t.equal(chat('{"choices":[], "usage": {"prompt_tokens": 3}}'), 'parse', 'usage chunk, spaced');
    t.equal(
      chat('{"choices":[{"delta":{"content":"x"}}],"usage":null}'),
      'token',
      'usage null is nothing to parse',
    );
    t.equal(
      chat('{"choices":[{"delta":{"content":"x"}}]}', false),
      'parse',
      'the first chunk names the model',
    );
    t.equal(
      chat('{"choices":[{"delta":{"content":"cut'),
      'parse',
      'not one object: parsed, so counted as malformed',
    );
    t.equal(
      chat(
        '{"choices":[{"delta":{"content":"say \\"finish_reason\\":\\"stop\\" and \\"usage\\":{"},"finish_reason":null}]}',
      ),
      'token',
      'the look-alikes inside generated text are escaped and do not force a parse',
    );
    t.equal(
      chat('{"choices":[{"delta":{"reasoning_content":"hmm"},"finish_reason":null}]}'),
      'no-token',
      'like the parsed path',
    );
  },
);

t.test(
  'OpenAI chunks as real servers write them: trailing members, several choices, odd values',
  async (t) => {
    const openai = (delta: string, finish: string, tail = '') =>
      `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":${delta},"logprobs":null,"finish_reason":${finish}}],"usage":null${tail}}`;
    t.equal(
      chat(openai('{"content":"Hi"}', 'null', ',"obfuscation":"k3Jd9"')),
      'token',
      'OpenAI obfuscation padding',
    );
    t.same(
      chat(openai('{"content":"!"}', '"length"', ',"obfuscation":"x"')),
      { finishReason: 'length', token: true },
      'a last token and the finish reason in one chunk',
    );
    t.equal(
      chat('{"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null,"stop_reason":null}]}'),
      'token',
      'vLLM stop_reason after the finish reason',
    );
    const twoChoices =
      '{"choices":[{"index":0,"delta":{},"finish_reason":"stop"},{"index":1,"delta":{"content":"b"},"finish_reason":null}]}';
    t.equal(chat(twoChoices), 'parse', 'another choice finished: parsed');
    t.equal(chat(twoChoices, true, true), 'token', 'n = 1 asked for: one finish reason per chunk at most');
    t.equal(
      chat('{"usage":{"prompt_tokens":1},"choices":[{"delta":{"content":"a"},"finish_reason":null}]}'),
      'parse',
      'usage anywhere in the chunk: parsed',
    );
    t.equal(
      chat(openai('{"content":"a"}', 'null').replace('"usage":null', '"usage":{"prompt_tokens":1}')),
      'parse',
      'vLLM continuous usage stats: parsed',
    );
    t.equal(chat(openai('{}', '"st\\"op"')), 'parse', 'an escaped finish reason: parsed');
    t.equal(chat(openai('{}', '""')), 'parse', 'an empty finish reason: parsed, like any odd value');
    t.equal(chat(openai('{}', '7')), 'no-token', 'not a string: ignored, as the parsed path ignores it');
  },
);

t.test('Anthropic and Responses API: only content deltas are skipped', async (t) => {
  t.equal(
    classifyDelta(
      'anthropic',
      'chat',
      '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a"}}',
      known,
    ),
    'token',
  );
  t.equal(
    classifyDelta('anthropic', 'chat', '{ "type": "content_block_delta", "delta": {} }', known),
    'token',
  );
  for (const type of ['message_start', 'message_delta', 'message_stop', 'content_block_start', 'ping'])
    t.equal(classifyDelta('anthropic', 'chat', `{"type":"${type}"}`, known), 'parse', type);
  t.equal(
    classifyDelta('openai', 'responses', '{"type":"response.output_text.delta","delta":"a"}', unknown),
    'token',
  );
  t.equal(
    classifyDelta(
      'openai',
      'responses',
      '{"type":"response.function_call_arguments.delta","delta":"{"}',
      unknown,
    ),
    'token',
  );
  t.equal(
    classifyDelta('openai', 'responses', '{"type":"response.completed","response":{}}', unknown),
    'parse',
  );
});

t.test('a stream written with json.dumps spacing is accounted like a compact one', async (t) => {
  const events = [
    '{"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]}',
    '{"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"content": "a"}, "finish_reason": null}]}',
    '{"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"content": "b"}, "finish_reason": null}]}',
    '{"id": "c", "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}',
    '{"id": "c", "model": "m", "choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}}',
    '[DONE]',
  ];
  const observer = new ResponseObserver('openai', 'chat', true);
  for (const data of events) observer.observe(Buffer.from(`data: ${data}\n\n`));
  const outcome = observer.finish();
  t.same(outcome.usage, { input: 4, output: 2 });
  t.same(outcome.finishReasons, ['length']);
  t.equal(outcome.responseModel, 'm');
  t.ok(
    outcome.firstTokenAt !== undefined && outcome.lastTokenAt! >= outcome.firstTokenAt,
    'token times from the deltas',
  );
  t.ok(outcome.complete);
});

t.test('read in batches, a token still gets the arrival time of its own chunk', async (t) => {
  const observer = new ResponseObserver('openai', 'chat', true);
  const event = (content: string) =>
    Buffer.from(
      `data: {"model":"m","choices":[{"delta":{"content":"${content}"},"finish_reason":null}]}\n\n`,
    );
  observer.observe(event(''));
  await new Promise((resolve) => setTimeout(resolve, 20));
  const beforeFirst = performance.now();
  observer.observe(event('a'));
  const afterFirst = performance.now();
  await new Promise((resolve) => setTimeout(resolve, 20));
  for (let i = 0; i < 200; i++) observer.observe(event('b'));
  const beforeLast = performance.now();
  observer.observe(event('c'));
  const afterLast = performance.now();
  const pending = (observer as unknown as { pending: Buffer[] }).pending;
  t.ok(pending.length < 64, `at most a batch is held (${pending.length})`);
  await new Promise((resolve) => setTimeout(resolve, 20));
  const outcome = observer.finish();
  t.ok(outcome.firstTokenAt! >= beforeFirst && outcome.firstTokenAt! <= afterFirst, 'first token: its chunk');
  t.ok(outcome.lastTokenAt! >= beforeLast && outcome.lastTokenAt! <= afterLast, 'last token: its chunk');
});

t.test('a stream is read as latin1, and what is kept of it comes out as UTF-8', async (t) => {
  const observer = new ResponseObserver('openai', 'chat', true);
  const stream = Buffer.from(
    'data: {"model":"modèle-日本","choices":[{"delta":{"content":"é"},"finish_reason":null}]}\n\n' +
      'data: {"model":"modèle-日本","choices":[{"delta":{},"finish_reason":"arrêt"}]}\n\ndata: [DONE]\n\n',
  );
  // Split inside a multi-byte character.
  const cut = stream.indexOf('日') + 1;
  observer.observe(stream.subarray(0, cut));
  observer.observe(stream.subarray(cut));
  const outcome = observer.finish();
  t.equal(outcome.responseModel, 'modèle-日本');
  t.same(outcome.finishReasons, ['arrêt']);
  t.ok(outcome.firstTokenAt !== undefined, 'the non-ASCII delta is a token');
});

t.test('large chunks are read sooner: the bytes held stay bounded', async (t) => {
  const observer = new ResponseObserver('openai', 'chat', true);
  const big = Buffer.from(
    `data: {"model":"m","choices":[{"delta":{"content":"${'x'.repeat(100_000)}"},"finish_reason":null}]}\n\n`,
  );
  for (let i = 0; i < 10; i++) observer.observe(big);
  const held = (observer as unknown as { pending: Buffer[] }).pending.reduce(
    (sum, chunk) => sum + chunk.length,
    0,
  );
  t.ok(held < 256 * 1024, `${held} bytes held`);
  t.ok(observer.finish().firstTokenAt !== undefined);
});

t.test('finish reasons read from the text match the parsed ones, one choice or several', async (t) => {
  const chunk = (choices: string) =>
    Buffer.from(`data: {"id":"c","model":"m","choices":[${choices}],"usage":null,"obfuscation":"ab"}\n\n`);
  const stream = [
    chunk('{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}'),
    chunk('{"index":0,"delta":{"content":"a"},"finish_reason":null}'),
    chunk('{"index":1,"delta":{"content":"b"},"finish_reason":null}'),
    chunk('{"index":0,"delta":{},"finish_reason":"stop"}'),
    chunk('{"index":1,"delta":{"content":"c"},"finish_reason":"length"}'),
    Buffer.from('data: [DONE]\n\n'),
  ];
  for (const singleChoice of [false, true]) {
    const observer = new ResponseObserver('openai', 'chat', true, { singleChoice });
    for (const part of stream) observer.observe(part);
    const outcome = observer.finish();
    t.same(outcome.finishReasons, ['stop', 'length'], `singleChoice ${singleChoice}`);
    t.equal(outcome.responseModel, 'm');
    t.ok(outcome.complete);
  }
  const twoInOne = new ResponseObserver('openai', 'chat', true, { singleChoice: false });
  twoInOne.observe(chunk('{"index":0,"delta":{"content":"a"},"finish_reason":null}'));
  twoInOne.observe(
    chunk(
      '{"index":0,"delta":{},"finish_reason":"stop"},{"index":1,"delta":{},"finish_reason":"content_filter"}',
    ),
  );
  t.same(twoInOne.finish().finishReasons, ['stop', 'content_filter'], 'two choices ending in one chunk');
});

import { brotliCompressSync, gzipSync } from 'node:zlib';
import t from 'tap';
import { canDecodeJson, utf8FromLatin1 } from '../../src/llm/body-decoding.ts';
import { MAX_OBSERVED_JSON_BYTES, ResponseObserver } from '../../src/llm/response-observer.ts';

const answer = JSON.stringify({
  model: 'gpt-4o-mini',
  choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 },
});

t.test('a compressed JSON answer is read once it is complete', async (t) => {
  for (const [encoding, body] of [
    ['gzip', gzipSync(answer)],
    ['br', brotliCompressSync(answer)],
  ] as const) {
    t.ok(canDecodeJson(encoding), encoding);
    const observer = new ResponseObserver('openai', 'chat', false, { contentEncoding: encoding });
    const cut = Math.floor(body.length / 2);
    observer.observe(body.subarray(0, cut));
    observer.observe(body.subarray(cut));
    const outcome = observer.finish();
    t.same(outcome.usage, { input: 7, output: 2 }, `${encoding}: usage`);
    t.same(outcome.finishReasons, ['stop']);
    t.ok(outcome.complete);
  }
  t.notOk(canDecodeJson('compress'), 'an encoding Node cannot decode is not read');
});

t.test('a compressed answer that inflates past the cap is too large, not a crash', async (t) => {
  const bomb = gzipSync(Buffer.alloc(MAX_OBSERVED_JSON_BYTES + 1024, 0x20));
  const observer = new ResponseObserver('openai', 'chat', false, { contentEncoding: 'gzip' });
  observer.observe(bomb);
  const outcome = observer.finish();
  t.ok(outcome.tooLarge);
  t.equal(outcome.malformed, 0);
});

t.test('latin1 strings are re-read as UTF-8; ASCII is returned as is', async (t) => {
  t.equal(utf8FromLatin1(Buffer.from('modèle', 'utf8').toString('latin1')), 'modèle');
  const ascii = 'gpt-4o-mini';
  t.equal(utf8FromLatin1(ascii), ascii);
});

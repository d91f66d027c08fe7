import t from 'tap';
import { globToRegExp, ModelLabeler, OTHER_MODEL, UNKNOWN_MODEL } from '../../src/llm/model-label.ts';

t.test('glob syntax: * across / and :, ? one character, the rest literal', async (t) => {
  t.ok(globToRegExp('gpt-4o*').test('gpt-4o-mini-2024-07-18'));
  t.ok(globToRegExp('gpt-4o*').test('gpt-4o'));
  t.notOk(globToRegExp('gpt-4o*').test('ft:gpt-4o'), 'anchored at the start');
  t.ok(globToRegExp('meta-llama/*').test('meta-llama/Llama-3.1-8B-Instruct'));
  t.ok(globToRegExp('ft:*:acme:*').test('ft:gpt-4o-mini:acme:run-7:abc'));
  t.ok(globToRegExp('claude-3-?-haiku*').test('claude-3-5-haiku-latest'));
  t.notOk(globToRegExp('gpt-4.1').test('gpt-401'), 'a dot is a dot');
  t.notOk(globToRegExp('GPT-4o').test('gpt-4o'), 'case-sensitive');
  t.ok(globToRegExp('a(b)[c]{d}+^$|\\').test('a(b)[c]{d}+^$|\\'), 'regex characters are literal');
});

t.test('allowed names keep their label; others are other; none is unknown', async (t) => {
  const labeler = new ModelLabeler(['gpt-4o*', 'claude-*']);
  t.equal(labeler.label('gpt-4o-mini'), 'gpt-4o-mini');
  t.equal(labeler.label('claude-3-5-haiku-latest'), 'claude-3-5-haiku-latest');
  t.equal(labeler.label('llama3'), OTHER_MODEL);
  t.equal(labeler.label(undefined), UNKNOWN_MODEL);
  t.equal(labeler.label(''), UNKNOWN_MODEL);
  t.equal(new ModelLabeler([]).label('gpt-4o'), OTHER_MODEL, 'an empty allow-list lets nothing through');
});

t.test('10,000 distinct names give a bounded set of labels, even under a catch-all glob', async (t) => {
  const labeler = new ModelLabeler(['*'], 50);
  const labels = new Set<string>();
  for (let i = 0; i < 10_000; i++) labels.add(labeler.label(`attacker-model-${i}`));
  t.equal(labels.size, 51, '50 admitted names plus other');
  t.equal(labeler.label('attacker-model-3'), 'attacker-model-3', 'an admitted name keeps its label');
  t.equal(labeler.label('attacker-model-9999'), OTHER_MODEL);
});

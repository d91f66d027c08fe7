import { readFile } from 'node:fs/promises';
import t from 'tap';
import { alertNames } from '../../src/ascode/alert-names.ts';
import { alertDefinitions } from '../../src/ascode/alerts.ts';
import { sloAlertNames } from '../../src/ascode/slo-rules.ts';

t.test('the alert list is the alerts the generators can write', async (t) => {
  t.same(
    [...alertNames].sort(),
    [...alertDefinitions.map((definition) => definition.name), ...Object.values(sloAlertNames)].sort(),
  );
});

t.test(
  'every alert has a runbook that says what it means, how to confirm it, how to mitigate it',
  async (t) => {
    const index = await readFile('docs/runbooks/README.md', 'utf8');
    for (const name of alertNames) {
      const text = await readFile(`docs/runbooks/${name}.md`, 'utf8');
      t.match(text, new RegExp(`^# ${name}\\n`), `${name}: titled with the alert name`);
      for (const section of ['Meaning', 'Confirm', 'Mitigate'])
        t.match(text, new RegExp(`^#+ .*${section}`, 'm'), `${name}: has a ${section} section`);
      t.match(index, `(${name}.md)`, `${name}: listed in docs/runbooks/README.md`);
    }
  },
);

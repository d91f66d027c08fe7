import t from 'tap';
import { parseConfig } from '../../src/config/load.ts';
import { redactConfig } from '../../src/config/redact.ts';

const text = `
admin: { host: 0.0.0.0, token: admin-secret-1 }
telemetry:
  redact_headers: [X-Org-Id]
upstreams:
  openai:
    url: https://user:pa55word@api.example.com/v1
    api_key: sk-secret-2
    headers:
      OpenAI-Organization: org-visible
      x-org-id: listed-secret-3
      X-Custom-Token: secret-4
      x-api-secret: secret-5
      Authorization: Bearer secret-6
      x-empty-key: ""
  unset:
    url: http://127.0.0.1:1
routes:
  - { name: r, upstream: openai }
`;

t.test('credentials become [redacted]; empty ones stay empty; the input is untouched', async (t) => {
  const { config } = parseConfig(text, 'a.yaml', {});
  const shown = redactConfig(config);
  const json = JSON.stringify(shown);
  for (const secret of [
    'admin-secret-1',
    'sk-secret-2',
    'listed-secret-3',
    'secret-4',
    'secret-5',
    'secret-6',
    'pa55word',
  ]) {
    t.notMatch(json, secret, `${secret} is hidden`);
  }
  t.equal(shown.admin.token, '[redacted]');
  t.equal(shown.upstreams['openai']?.api_key, '[redacted]');
  t.equal(shown.upstreams['openai']?.url, 'https://user:[redacted]@api.example.com/v1');
  t.same(shown.upstreams['openai']?.headers, {
    'OpenAI-Organization': 'org-visible',
    'x-org-id': '[redacted]',
    'X-Custom-Token': '[redacted]',
    'x-api-secret': '[redacted]',
    Authorization: '[redacted]',
    'x-empty-key': '',
  });
  t.equal(shown.upstreams['unset']?.api_key, '', 'an unset key shows as unset');
  t.equal(shown.upstreams['unset']?.url, 'http://127.0.0.1:1');
  t.equal(shown.listener.port, 8080, 'everything else is kept');
  t.equal(config.admin.token, 'admin-secret-1', 'the effective config is not changed');
  t.notOk(Object.isFrozen(shown), 'the copy is a new object');
});

t.test('partial configs (what a caller happens to hold) are redacted without throwing', async (t) => {
  t.same(redactConfig({ upstreams: { a: { api_key: 'k' } } }), {
    upstreams: { a: { api_key: '[redacted]' } },
  });
  t.same(redactConfig({ admin: { token: '' } }), { admin: { token: '' } });
  t.equal(redactConfig(null), null);
});

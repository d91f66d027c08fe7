import t from 'tap';
import { request } from 'undici';
import { startMockBackend } from '../support/mock-backend.ts';
import { startSluice } from '../support/sluice.ts';

t.test('GET /admin/cache and POST /admin/cache/purge, behind the admin token', async (t) => {
  const mock = await startMockBackend(t);
  const { url, adminUrl } = await startSluice(t, {
    admin: { token: 'admin-secret' },
    upstreams: { llm: { url: mock.url } },
    routes: [
      {
        name: 'chat',
        upstream: 'llm',
        protocol: 'openai',
        cache: { ttl_seconds: 60, tenant_header: 'x-tenant' },
      },
    ],
  });
  const auth = { authorization: 'Bearer admin-secret' };
  const ask = async (content: string, tenant: string) => {
    const response = await request(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-tenant': tenant },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] }),
    });
    await response.body.dump();
    return response.headers['x-sluice-cache'];
  };
  const admin = async (
    path: string,
    init: { method?: string; body?: string; headers?: Record<string, string> } = {},
  ) => {
    const response = await request(`${adminUrl}${path}`, { method: 'GET', ...init } as never);
    return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> };
  };

  t.equal((await admin('/admin/cache')).status, 401, 'no token, no stats');
  await ask('one', 'acme');
  await ask('two', 'acme');
  await ask('one', 'globex');
  const stats = await admin('/admin/cache', { headers: auth });
  t.equal(stats.status, 200);
  t.match(stats.body, { l1: { entries: 3 }, l2: { state: 'off' }, flights: 0 });

  const purge = (body: unknown) =>
    admin('/admin/cache/purge', {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { ...auth, 'content-type': 'application/json' },
    });
  t.equal((await purge({ route: 'nope' })).status, 400, 'an unknown route is a 400');
  t.same((await purge({ route: 'chat', tenant: 'acme' })).body, { purged: 2 }, 'one tenant');
  t.equal(await ask('one', 'globex'), 'HIT', 'the other tenant keeps its entry');
  t.equal(await ask('one', 'acme'), 'MISS', 'the purged tenant asks again');
  t.same((await purge({ all: true })).body, { purged: 2 });
  t.equal(await ask('one', 'globex'), 'MISS');
  const denied = await request(`${adminUrl}/admin/cache/purge`, { method: 'POST', body: '{"all":true}' });
  t.equal(denied.statusCode, 401, 'no token, no purge');
  await denied.body.dump();
});

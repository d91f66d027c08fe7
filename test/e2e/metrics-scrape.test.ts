/** A scrape of a running Sluice after real traffic (success, stream, backend errors) passes promtool. */
import OpenAI from 'openai';
import t from 'tap';
import { request } from 'undici';
import { startMockBackend } from '../support/mock-backend.ts';
import { promtool, promtoolMissing } from '../support/promtool.ts';
import { singleRoute, startSluice } from '../support/sluice.ts';

t.test(
  'live /metrics after traffic is clean for promtool and counts what happened',
  { skip: promtoolMissing },
  async (t) => {
    const mock = await startMockBackend(t);
    const { url, adminUrl } = await startSluice(t, singleRoute(mock.url, 'openai'));
    const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'k', maxRetries: 0 });
    const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }] };
    await openai.chat.completions.create(chat);
    for await (const _ of await openai.chat.completions.create({ ...chat, stream: true })) {
      // drain the stream
    }
    await openai.chat.completions
      .create(chat, { headers: { 'x-mock-status': '503' } })
      .catch(() => undefined);
    await (await request(`${url}/v1/unknown`)).body.text();

    const scrape = await (await request(`${adminUrl}/metrics`)).body.text();
    const check = promtool(['check', 'metrics'], scrape);
    t.equal(check.status, 0, 'promtool exits 0');
    t.equal(check.output, '', 'promtool reports no lint problems');
    t.match(
      scrape,
      /sluice_http_requests_total\{[^}]*code="200"[^}]*\} 2/,
      'two successful requests counted',
    );
    t.match(scrape, /sluice_http_requests_total\{[^}]*code="503"[^}]*\} 1/, 'the backend error counted');
    t.match(
      scrape,
      /sluice_http_requests_total\{[^}]*method="GET",code="404"[^}]*\} 1/,
      'the unknown path counted',
    );
  },
);

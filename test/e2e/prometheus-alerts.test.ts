/**
 * The generated rules and dashboards against a real Prometheus scraping a real Sluice every second
 * (rules generated with the test profile: windows and for: divided by 30). Healthy traffic fires
 * nothing; upstream 500s fire SluiceRouteErrorRatioHigh; every dashboard query returns data.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import OpenAI from 'openai';
import t from 'tap';
import { request } from 'undici';
import { stringify } from 'yaml';
import { queryPanels } from '../../src/ascode/dashboard-model.ts';
import { generateDashboards } from '../../src/ascode/dashboards.ts';
import { profiles } from '../../src/ascode/profile.ts';
import { generateRules } from '../../src/ascode/rule-files.ts';
import { parseConfig } from '../../src/config/load.ts';
import { eventually as poll } from '../support/eventually.ts';
import { startMockBackend } from '../support/mock-backend.ts';
import { type PromAlert, prometheusMissing, startPrometheus } from '../support/prometheus.ts';
import { startSluice, withTestDefaults } from '../support/sluice.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every 500 ms: each check is a query to Prometheus, which evaluates rules on its own interval. */
const eventually = <T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>) =>
  poll(what, timeoutMs, check, 500);

/** Grafana's variables, as a dashboard would send them with "All" selected. */
function withVariables(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '30s')
    .replaceAll('$__interval', '5s')
    .replaceAll('$__range', '5m')
    .replace(/\$\{?[a-zA-Z_][a-zA-Z0-9_]*\}?/g, '.*');
}

t.test(
  'a real Prometheus: quiet when healthy, SluiceRouteErrorRatioHigh firing on upstream 500s, every panel has data',
  { skip: prometheusMissing, timeout: 240_000 },
  async (t) => {
    const mock = await startMockBackend(t);
    const config = {
      upstreams: {
        llm: { url: mock.url },
        // Nothing listens on port 9 of loopback: every attempt is a connect error.
        gone: { url: 'http://127.0.0.1:9' },
      },
      routes: [
        {
          name: 'down',
          upstream: 'gone',
          protocol: 'openai',
          match: { path_prefix: '/down/' },
          strip_prefix: '/down',
        },
        { name: 'chat', upstream: 'llm', protocol: 'openai', match: { path_prefix: '/v1/' } },
      ],
      llm: { prices: [{ model: 'gpt-4o-mini', input: 0.15, output: 0.6 }] },
      alerts: { selector: 'job="sluice"' },
      slos: [
        { name: 'chat-availability', route: 'chat', sli: 'availability', objective: 99 },
        { name: 'chat-latency', route: 'chat', sli: 'latency', objective: 99, latency_threshold_seconds: 10 },
      ],
    };
    const { url, adminUrl } = await startSluice(t, config);
    const { config: effective } = parseConfig(stringify(withTestDefaults(config)), 'e2e.yaml', {});
    const ctx = { config: effective, profile: profiles.test };
    const rules = generateRules(ctx, 'e2e');
    const dir = t.testdir({});
    const ruleFiles: string[] = [];
    for (const [path, text] of rules.files) {
      if (!path.startsWith('rules/sluice.')) continue;
      const file = join(dir, path.replaceAll('/', '-'));
      await writeFile(file, text);
      ruleFiles.push(file);
    }
    const prometheus = await startPrometheus(t, {
      job: 'sluice',
      targets: [new URL(adminUrl).host],
      ruleFiles,
    });

    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'k', maxRetries: 0 });
    const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hello' }] };
    const healthyRequest = async (i: number) => {
      if (i % 2 === 0) await client.chat.completions.create(chat);
      else {
        const stream = await client.chat.completions.create({
          ...chat,
          stream: true,
          stream_options: { include_usage: true },
        });
        for await (const _ of stream) void _;
      }
    };
    async function drive(seconds: number, send: (i: number) => Promise<unknown>) {
      const end = Date.now() + seconds * 1000;
      for (let i = 0; Date.now() < end; i++) {
        await Promise.all([send(i), sleep(100)]);
      }
    }

    await eventually('the first scrape', 20_000, async () => {
      const up = await prometheus.query('up{job="sluice"}');
      return up[0]?.value?.[1] === '1' ? true : undefined;
    });
    await drive(25, healthyRequest);
    const active = (alerts: PromAlert[]) => alerts.filter((alert) => alert.state !== 'inactive');
    t.same(
      active(await prometheus.alerts()).map((alert) => `${alert.labels['alertname']} ${alert.state}`),
      [],
      'healthy traffic: no alert pending or firing',
    );

    // Faults: upstream 500s, truncated streams, an unpriced model, attempts at an unreachable upstream.
    const down = new OpenAI({ baseURL: `${url}/down/v1`, apiKey: 'k', maxRetries: 0 });
    /** A body that is not JSON (counted as unparsed) and a path no route matches (a rejection). */
    const oddRequests = async () => {
      const unparsed = await request(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"model": "gpt-4o-mini", "messages": [',
      });
      await unparsed.body.dump();
      await (await request(`${url}/nothing-here`)).body.dump();
    };
    /** A client that leaves in the middle of a slow stream. */
    const abandonedStream = async () => {
      const abort = new AbortController();
      const stream = await client.chat.completions.create(
        { ...chat, stream: true },
        { headers: { 'x-mock-gap-ms': '200' }, signal: abort.signal },
      );
      for await (const _ of stream) {
        void _;
        abort.abort();
      }
    };
    const faulty = async (i: number) => {
      const ignore = () => undefined;
      await Promise.all([
        client.chat.completions.create(chat, { headers: { 'x-mock-status': '500' } }).catch(ignore),
        healthyRequest(i).catch(ignore),
        i % 5 === 0
          ? (async () => {
              const stream = await client.chat.completions.create(
                { ...chat, stream: true },
                { headers: { 'x-mock-reset-after': '3' } },
              );
              for await (const _ of stream) void _;
            })().catch(ignore)
          : undefined,
        i % 5 === 1
          ? client.chat.completions.create({ ...chat, model: 'unpriced-model' }).catch(ignore)
          : undefined,
        i % 5 === 2 ? down.chat.completions.create(chat).catch(ignore) : undefined,
        i % 5 === 3 ? oddRequests().catch(ignore) : undefined,
        i % 5 === 4 ? abandonedStream().catch(ignore) : undefined,
      ]);
    };
    const firing = await eventually('SluiceRouteErrorRatioHigh to fire', 90_000, async () => {
      await drive(2, faulty);
      return (await prometheus.alerts()).find(
        (alert) =>
          alert.labels['alertname'] === 'SluiceRouteErrorRatioHigh' &&
          alert.labels['route'] === 'chat' &&
          alert.state === 'firing',
      );
    });
    t.equal(firing.labels['severity'], 'critical');
    t.match(firing.annotations['description'], /^Route chat: \d+(\.\d+)?% of responses/);
    const names = new Set(active(await prometheus.alerts()).map((alert) => alert.labels['alertname']));
    t.ok(names.has('SluiceUpstreamUnreachable'), 'the upstream nobody listens for is unreachable');
    t.comment(`alerts active after the faults: ${[...names].sort().join(', ')}`);

    const dashboards = generateDashboards(ctx, 'e2e').dashboards;
    t.ok(dashboards.length > 0, 'dashboards were generated');
    for (const dashboard of dashboards) {
      for (const panel of queryPanels(dashboard)) {
        for (const target of panel.targets) {
          const expr = withVariables(target.expr);
          const result = await prometheus.query(expr);
          t.ok(result.length > 0, `${dashboard.uid} / ${panel.title} [${target.refId}] has data: ${expr}`);
        }
      }
    }
  },
);

import t from 'tap';
import { request } from 'undici';
import { startEchoUpstream } from '../support/echo-upstream.ts';
import { singleRoute, startSluice } from '../support/sluice.ts';

t.test(
  'reload under load: zero failed requests, new config serves new requests, invalid file keeps the old',
  async (t) => {
    const first = await startEchoUpstream(t, (_req, res) => res.end('first'));
    const second = await startEchoUpstream(t, (_req, res) => res.end('second'));
    const running = await startSluice(t, singleRoute(first.url));
    const { sluice, url } = running;

    const statuses = new Map<number | string, number>();
    const bodies = new Set<string>();
    let stop = false;
    const worker = async () => {
      while (!stop) {
        try {
          const res = await request(`${url}/x`);
          bodies.add(await res.body.text());
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        } catch (error) {
          statuses.set((error as Error).message, (statuses.get((error as Error).message) ?? 0) + 1);
        }
      }
    };
    const workers = Array.from({ length: 16 }, worker);
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 100));
      await running.rewrite(singleRoute(i % 2 === 0 ? second.url : first.url));
      const result = await sluice.reload();
      t.ok(result.ok, `reload ${i + 1} succeeded`);
    }
    await new Promise((r) => setTimeout(r, 100));
    stop = true;
    await Promise.all(workers);
    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    t.same([...statuses.keys()], [200], `all ${total} requests during reloads answered 200`);
    t.ok(total > 50, `load was real (${total} requests)`);
    t.same([...bodies].sort(), ['first', 'second'], 'both configs served');

    // The last reload pointed at `first` (i = 5); an invalid file must leave it serving.
    await running.rewrite({ upstreams: {}, routes: [] });
    const failed = await sluice.reload();
    t.notOk(failed.ok, 'invalid config rejected');
    t.match(failed.ok ? '' : failed.error, /sluice\.yaml:\d+:\d+/, 'the error names file:line:col');
    t.equal(await (await request(`${url}/x`)).body.text(), 'first', 'the old config keeps serving');
    const metrics = await (await request(`${running.adminUrl}/metrics`)).body.text();
    t.match(metrics, /sluice_config_reloads_total\{result="failure"\} 1/);
    t.match(metrics, /sluice_config_reloads_total\{result="success"\} 6/);
    t.match(metrics, /sluice_config_last_reload_successful 0/);
    t.ok(running.logs.some((l) => l['msg'] === 'config reload failed; the previous config keeps serving'));
  },
);

import t from 'tap';
import { createLogger, isoTimestamp } from '../../src/telemetry/logger.ts';

t.test(
  'isoTimestamp is what toISOString gives, across second boundaries and for every millisecond',
  async (t) => {
    const start = Date.UTC(2026, 10, 23, 23, 59, 58, 990);
    for (let now = start; now < start + 2100; now += 7) {
      t.equal(isoTimestamp(now), `,"time":"${new Date(now).toISOString()}"`);
    }
    // Going back in time (a clock step) must not reuse the later second.
    t.equal(isoTimestamp(start), `,"time":"${new Date(start).toISOString()}"`);
    t.end();
  },
);

t.test('log lines carry the ISO time, the level label, and redact credentials', async (t) => {
  const lines: string[] = [];
  const logger = createLogger(
    { log_level: 'info', access_log: true, redact_headers: ['x-team-secret'], tracing: false },
    { write: (line: string) => void lines.push(line) },
  );
  const before = Date.now();
  logger.info({ headers: { authorization: 'Bearer sk-1', 'x-team-secret': 's', 'x-ok': 'kept' } }, 'hello');
  const entry = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
  t.equal(entry['level'], 'info');
  t.equal(entry['msg'], 'hello');
  t.ok(Date.parse(String(entry['time'])) >= before - 1, 'time parses and is now');
  t.same(entry['headers'], { authorization: '[redacted]', 'x-team-secret': '[redacted]', 'x-ok': 'kept' });
});

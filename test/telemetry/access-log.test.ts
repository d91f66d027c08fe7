import t from 'tap';
import { type AccessRecord, accessLogLine } from '../../src/telemetry/access-log.ts';
import { createLogger } from '../../src/telemetry/logger.ts';

const base: AccessRecord = {
  request_id: '5f0c2f9e-1c2b-4c1e-9a55-0d7e0b8f4a11',
  route: 'chat',
  method: 'POST',
  path: '/v1/chat/completions',
  status: 200,
  upstream: 'openai',
  duration_ms: 1834.211,
  upstream_ms: 1833.02,
  overhead_ms: 0.412,
  bytes_in: 312,
  bytes_out: 5120,
  client_ip: '10.1.2.3',
  error: undefined,
};

/** What pino writes for the same record: the line the fixed-schema serialiser must equal. */
function viaPino(record: AccessRecord, now: number): string {
  let line = '';
  const logger = createLogger(
    { log_level: 'info', access_log: true, redact_headers: [], tracing: false },
    {
      write: (s: string) => {
        line = s;
      },
    },
  );
  const realNow = Date.now;
  Date.now = () => now;
  try {
    const { llm, ...http } = record;
    const llmFields = llm && {
      model: llm.model,
      input_tokens: llm.inputTokens,
      output_tokens: llm.outputTokens,
      cost_usd: llm.costUsd === undefined ? undefined : Math.round(llm.costUsd * 1e8) / 1e8,
      ttft_ms: llm.ttftMs,
    };
    logger.info({ ...http, ...llmFields }, 'request');
  } finally {
    Date.now = realNow;
  }
  return line;
}

t.test('the access-log line is byte for byte what pino writes for the same record', async (t) => {
  const now = Date.UTC(2026, 10, 23, 12, 0, 0, 7);
  const records: AccessRecord[] = [
    base,
    { ...base, upstream: undefined, upstream_ms: undefined, status: 404, error: 'route_not_found' },
    { ...base, path: '/v1/a"b\\c\u0001\u2028é😀', method: 'GET', client_ip: '::1' },
    { ...base, duration_ms: Number.NaN, bytes_out: 0 },
    { ...base, upstream: undefined, upstream_ms: undefined, cache: 'HIT' },
    {
      ...base,
      llm: {
        model: 'gpt-4o-mini',
        inputTokens: 1200,
        outputTokens: 87,
        costUsd: 0.00023220000000000001,
        ttftMs: 312.25,
      },
    },
    {
      ...base,
      llm: {
        model: 'a"model\\',
        inputTokens: 5,
        outputTokens: undefined,
        costUsd: undefined,
        ttftMs: undefined,
      },
    },
    {
      ...base,
      llm: {
        model: undefined,
        inputTokens: undefined,
        outputTokens: undefined,
        costUsd: undefined,
        ttftMs: undefined,
      },
    },
  ];
  for (const [i, record] of records.entries()) {
    const ours = accessLogLine(record, now);
    t.equal(ours, viaPino(record, now), `record ${i}`);
    t.same(JSON.parse(ours).path, record.path, 'the path survives a JSON round trip');
  }
});

t.test('a lone surrogate is escaped (pino writes it raw, which stdout turns into U+FFFD)', async (t) => {
  const line = accessLogLine({ ...base, request_id: 'bad\ud800id' });
  t.match(line, /"request_id":"bad\\ud800id"/);
  t.equal(JSON.parse(line).request_id, 'bad\ud800id');
});

t.test('a long model name is cut to a bounded prefix', async (t) => {
  const model = 'm'.repeat(10_000);
  const line = accessLogLine({
    ...base,
    llm: { model, inputTokens: 1, outputTokens: 1, costUsd: 0, ttftMs: undefined },
  });
  t.equal(JSON.parse(line).model, 'm'.repeat(200));
});

/** `sluice mock-llm`: run the built-in mock LLM backend until SIGINT/SIGTERM. */
import { defaultMockLlmOptions, type MockLlmOptions } from '../mock-llm/options.ts';
import { startMockLlm } from '../mock-llm/server.ts';
import { intFlag, numberFlag, parseFlags } from './args.ts';
import { type Command, UsageError } from './command.ts';
import { waitForStopSignal } from './stop-signal.ts';

const defaults = defaultMockLlmOptions;

const usage = [
  'Usage: sluice mock-llm [options]',
  '',
  'Serves OpenAI- and Anthropic-compatible endpoints with deterministic text, for tests and load tests',
  '(no tokens paid). Prints {"msg":"mock-llm listening","url":...} on stdout when ready.',
  '',
  'Options:',
  `  --host HOST             Interface to listen on (default ${defaults.host}).`,
  '  --port N                TCP port; 0 picks a free one (default 0).',
  `  --models N              Models listed by /v1/models (default ${defaults.models}).`,
  '  --latency-ms N          Delay before every response head (default 0).',
  '  --gap-ms N              Delay between SSE events (default 0).',
  `  --tokens N              Completion length in tokens (default ${defaults.tokens}).`,
  '  --error-rate R          Share 0..1 of requests answered with an error status (default 0).',
  `  --error-status LIST     Statuses to pick from, comma-separated (default ${defaults.errorStatuses.join(',')}).`,
  '  --reset-rate R          Share 0..1 of responses cut by closing the connection (default 0).',
  '  --slow-headers-ms N     Send the status line, then the rest of the head N ms later (default 0).',
  '  --seed N                Seed the fault draws so a run fails the same requests every time.',
  '  -h, --help              Show this help.',
  '',
  'Per-request overrides (request headers): x-mock-status, x-mock-latency-ms, x-mock-gap-ms,',
  'x-mock-tokens, x-mock-reset-after (events, bytes or "before-headers"), x-mock-slow-headers-ms.',
  'See docs/mock-llm.md.',
].join('\n');

const flags = {
  host: { type: 'string' },
  port: { type: 'string' },
  models: { type: 'string' },
  'latency-ms': { type: 'string' },
  'gap-ms': { type: 'string' },
  tokens: { type: 'string' },
  'error-rate': { type: 'string' },
  'error-status': { type: 'string' },
  'reset-rate': { type: 'string' },
  'slow-headers-ms': { type: 'string' },
  seed: { type: 'string' },
} as const;

function statusList(value: string | undefined): readonly number[] {
  if (value === undefined) return defaults.errorStatuses;
  return value.split(',').map((part) => intFlag(part.trim(), 'error-status', 0, 400));
}

/** Turns the flags into options; ranges the flag helpers cannot express are left to the option validation. */
export function mockLlmOptionsFromArgs(args: readonly string[]): Partial<MockLlmOptions> {
  const { values } = parseFlags(args, flags);
  return {
    host: values.host ?? defaults.host,
    port: intFlag(values.port, 'port', defaults.port),
    models: intFlag(values.models, 'models', defaults.models),
    latencyMs: intFlag(values['latency-ms'], 'latency-ms', defaults.latencyMs),
    gapMs: intFlag(values['gap-ms'], 'gap-ms', defaults.gapMs),
    tokens: intFlag(values.tokens, 'tokens', defaults.tokens),
    errorRate: numberFlag(values['error-rate'], 'error-rate', defaults.errorRate, 0, 1),
    errorStatuses: statusList(values['error-status']),
    resetRate: numberFlag(values['reset-rate'], 'reset-rate', defaults.resetRate, 0, 1),
    slowHeadersMs: intFlag(values['slow-headers-ms'], 'slow-headers-ms', defaults.slowHeadersMs),
    seed: values.seed === undefined ? undefined : intFlag(values.seed, 'seed', 0),
  };
}

export const mockLlmCommand: Command = {
  name: 'mock-llm',
  summary: 'Run the built-in mock LLM backend (OpenAI + Anthropic APIs, fault injection).',
  usage,
  async run(args) {
    const options = mockLlmOptionsFromArgs(args);
    let mock: Awaited<ReturnType<typeof startMockLlm>>;
    try {
      mock = await startMockLlm(options);
    } catch (error) {
      // Out-of-range values (port > 65535, status 600…) are usage errors, not crashes.
      if (error instanceof RangeError) throw new UsageError(error.message);
      throw error;
    }
    console.log(JSON.stringify({ msg: 'mock-llm listening', url: mock.url }));
    await waitForStopSignal();
    await mock.close();
    return 0;
  },
};

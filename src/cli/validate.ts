/** `sluice validate`: check a config file the way `serve` and reload would, without starting anything. */
import { ConfigError, formatIssue } from '../config/errors.ts';
import { loadConfig } from '../config/load.ts';
import { parseFlags } from './args.ts';
import { type Command, UsageError } from './command.ts';

const defaultConfig = 'config/sluice.example.yaml';

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

export const validateCommand: Command = {
  name: 'validate',
  summary: 'Check a config file: syntax, schema, references, TLS files.',
  usage: [
    'Usage: sluice validate [FILE] [--config FILE]',
    '',
    'Options:',
    `  -c, --config FILE   The YAML config (default ${defaultConfig}).`,
    '  -h, --help          Show this help.',
    '',
    'Environment variables the file refers to are read from the current environment, as serve reads them.',
    'Prints "FILE: OK (N routes, M upstreams)" and exits 0 when the file is valid; otherwise prints',
    'every problem as FILE:LINE:COL: KEY.PATH: MESSAGE on stderr and exits 1.',
  ].join('\n'),
  async run(args) {
    const { values, positionals } = parseFlags(args, { config: { type: 'string', short: 'c' } }, true);
    if (positionals.length > 1) throw new UsageError('give one config file.');
    if (positionals[0] !== undefined && values.config !== undefined && positionals[0] !== values.config) {
      throw new UsageError('give the config file either as FILE or with --config, not both.');
    }
    const file = values.config ?? positionals[0] ?? defaultConfig;
    try {
      const { config } = await loadConfig(file);
      const routes = count(config.routes.length, 'route');
      const upstreams = count(Object.keys(config.upstreams).length, 'upstream');
      console.log(`${file}: OK (${routes}, ${upstreams})`);
      return 0;
    } catch (error) {
      if (error instanceof ConfigError) {
        for (const issue of error.issues) console.error(formatIssue(issue));
        console.error(`${file}: ${count(error.issues.length, 'problem')}`);
      } else {
        console.error(`sluice validate: ${error instanceof Error ? error.message : String(error)}`);
      }
      return 1;
    }
  },
};

/** `sluice generate`: alert rules, SLO rules and dashboards from a config file. */
import { basename } from 'node:path';
import { type GenerateTarget, generateFiles, staleFiles, writeFiles } from '../ascode/generate.ts';
import type { ProfileName } from '../ascode/profile.ts';
import { ConfigError, formatIssue } from '../config/errors.ts';
import { loadConfig } from '../config/load.ts';
import { parseFlags } from './args.ts';
import { type Command, UsageError } from './command.ts';

const defaultConfig = 'config/sluice.example.yaml';
const targets: readonly GenerateTarget[] = ['rules', 'dashboards', 'all'];
const profileNames: readonly ProfileName[] = ['production', 'test'];

export const generateCommand: Command = {
  name: 'generate',
  summary: 'Write Prometheus alert and SLO rules and Grafana dashboards for a config.',
  usage: [
    'Usage: sluice generate [rules|dashboards|all] [--config FILE] [--out DIR] [--check]',
    '',
    'Writes, under DIR (default: the current folder):',
    '  rules        rules/sluice.rules.yaml (recording and alert rules), rules/sluice.slo.rules.yaml,',
    '               rules/tests/*.test.yaml (promtool test rules), rules/kubernetes/sluice.prometheusrule.yaml',
    '  dashboards   dashboards/*.json (Grafana), dashboards/provisioning/*.yaml',
    '  all          both (the default)',
    '',
    'Options:',
    `  -c, --config FILE   The YAML config (default ${defaultConfig}).`,
    '  -o, --out DIR       Folder to write under (default .).',
    '      --check         Write nothing; exit 1 and list the files that differ from what would be written.',
    '      --profile NAME  production (default) or test: every window and for: divided by 30, for tests',
    '                      against a Prometheus that scrapes every second.',
    '  -h, --help          Show this help.',
    '',
    'The output depends only on the config file, so CI can check that checked-in files are current.',
  ].join('\n'),
  async run(args) {
    const { values, positionals } = parseFlags(
      args,
      {
        config: { type: 'string', short: 'c' },
        out: { type: 'string', short: 'o' },
        check: { type: 'boolean' },
        profile: { type: 'string' },
      },
      true,
    );
    if (positionals.length > 1) throw new UsageError('give at most one of rules, dashboards, all.');
    const target = (positionals[0] ?? 'all') as GenerateTarget;
    if (!targets.includes(target))
      throw new UsageError(`unknown target "${target}"; use rules, dashboards or all.`);
    const profile = (values.profile ?? 'production') as ProfileName;
    if (!profileNames.includes(profile))
      throw new UsageError(`unknown profile "${profile}"; use production or test.`);
    const file = values.config ?? defaultConfig;
    const out = values.out ?? '.';
    let files: Map<string, string>;
    try {
      const { config } = await loadConfig(file);
      files = generateFiles(config, { target, profile, configName: basename(file) });
    } catch (error) {
      if (error instanceof ConfigError) {
        for (const issue of error.issues) console.error(formatIssue(issue));
        return 1;
      }
      console.error(`sluice generate: ${error instanceof Error ? error.message : String(error)}`);
      return 1;
    }
    if (values.check) {
      const stale = await staleFiles(out, files);
      for (const path of stale)
        console.error(`${path}: stale (run: sluice generate ${target} --config ${file})`);
      if (stale.length > 0) return 1;
      console.log(`${files.size} generated files are current.`);
      return 0;
    }
    await writeFiles(out, files);
    for (const path of files.keys()) console.log(`wrote ${path}`);
    return 0;
  },
};

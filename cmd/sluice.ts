#!/usr/bin/env node
/** The `sluice` CLI: dispatches to the sub-commands in src/cli/. */
import { type Command, UsageError } from '../src/cli/command.ts';
import { generateCommand } from '../src/cli/generate.ts';
import { mockLlmCommand } from '../src/cli/mock-llm.ts';
import { serveCommand } from '../src/cli/serve.ts';
import { validateCommand } from '../src/cli/validate.ts';
import { versionCommand } from '../src/cli/version.ts';

const commands: readonly Command[] = [
  serveCommand,
  validateCommand,
  generateCommand,
  mockLlmCommand,
  versionCommand,
];

function overview(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'Usage: sluice <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "Run `sluice <command> --help` for a command's options.",
  ].join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(overview());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') return versionCommand.run([]);
  const command = commands.find((c) => c.name === name);
  if (!command) {
    console.error(`sluice: unknown command "${name}".\n\n${overview()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.usage);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`sluice ${command.name}: ${error.message}\n\n${command.usage}`);
      return 2;
    }
    console.error(`sluice ${command.name}: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));

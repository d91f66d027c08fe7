/** `sluice serve`: run the proxy until SIGTERM/SIGINT; SIGHUP (and, opted in, a file change) reloads. */
import { watchConfigFile } from '../config/watch.ts';
import { Sluice } from '../server/sluice.ts';
import { parseFlags } from './args.ts';
import type { Command } from './command.ts';
import { waitForStopSignal } from './stop-signal.ts';

const defaultConfig = 'config/sluice.example.yaml';

export const serveCommand: Command = {
  name: 'serve',
  summary: 'Run the proxy (and its admin listener) on a config file.',
  usage: [
    'Usage: sluice serve [--config FILE]',
    '',
    'Options:',
    `  -c, --config FILE   The YAML config (default ${defaultConfig}).`,
    '  -h, --help          Show this help.',
    '',
    'Signals: SIGHUP reloads the config (an invalid file keeps the old one serving);',
    'SIGTERM and SIGINT drain requests in flight (shutdown.drain_timeout_ms), then exit 0.',
    'Upstreams with url mock://local start the built-in mock LLM backend.',
  ].join('\n'),
  async run(args) {
    const { values, positionals } = parseFlags(args, { config: { type: 'string', short: 'c' } }, true);
    const file = values.config ?? positionals[0] ?? defaultConfig;
    const sluice = await Sluice.start(file);
    const stopWatching = sluice.config.reload.watch
      ? watchConfigFile(sluice.file, sluice.config.reload.debounce_ms, () => void sluice.reload())
      : undefined;
    const onHangup = () => void sluice.reload();
    process.on('SIGHUP', onHangup);
    await waitForStopSignal();
    process.off('SIGHUP', onHangup);
    stopWatching?.();
    await sluice.shutdown();
    return 0;
  },
};

/** `sluice version`: Sluice's and Node's versions. */
import { version } from '../version.ts';
import type { Command } from './command.ts';

export const versionCommand: Command = {
  name: 'version',
  summary: 'Print the Sluice and Node.js versions.',
  usage: 'Usage: sluice version\n\nPrints "sluice <version> (node <version>)".',
  async run() {
    console.log(`sluice ${version} (node ${process.versions.node})`);
    return 0;
  },
};

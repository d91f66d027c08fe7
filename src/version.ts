/** Sluice's version, read once from package.json (which ships beside dist/ and src/). */
import { readFileSync } from 'node:fs';

function findVersion(): string {
  for (const candidate of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(candidate, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'sluice' && pkg.version) return pkg.version;
    } catch {
      // not at this depth; src/ is one level below package.json, dist/src/ two
    }
  }
  return '0.0.0-unknown';
}

export const version = findVersion();

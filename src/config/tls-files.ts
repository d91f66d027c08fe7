/**
 * The PEM files named under `upstreams.*.tls`. Relative paths are relative to the config file, not
 * to wherever Sluice was started from, so the effective config carries absolute paths. Their
 * existence is checked at load time: a missing CA file should fail the load (and keep the old config
 * serving on reload), not the first request.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { ConfigIssue } from './errors.ts';
import { describeValue, type InterpolatedPaths } from './interpolate.ts';
import { type ConfigSource, formatKeyPath } from './source.ts';

const fileKeys = ['ca_file', 'cert_file', 'key_file'] as const;

interface TlsFile {
  readonly upstream: string;
  readonly key: (typeof fileKeys)[number];
  readonly tls: Record<string, unknown>;
}

function tlsFiles(config: unknown): TlsFile[] {
  const upstreams = (config as { upstreams?: unknown } | null)?.upstreams;
  if (upstreams === null || typeof upstreams !== 'object') return [];
  const found: TlsFile[] = [];
  for (const [upstream, settings] of Object.entries(upstreams)) {
    const tls = (settings as { tls?: unknown } | null)?.tls;
    if (tls === null || typeof tls !== 'object') continue;
    for (const key of fileKeys) {
      if (typeof (tls as Record<string, unknown>)[key] === 'string') {
        found.push({ upstream, key, tls: tls as Record<string, unknown> });
      }
    }
  }
  return found;
}

/** Rewrites relative TLS file paths (in place, before freezing) against the config file's directory. */
export function resolveTlsFiles(config: unknown, configFile: string): void {
  const base = dirname(resolve(configFile));
  for (const { key, tls } of tlsFiles(config)) tls[key] = resolve(base, tls[key] as string);
}

async function problemWith(path: string): Promise<string | undefined> {
  try {
    if (!(await stat(path)).isFile()) return 'is not a regular file';
    await access(path, constants.R_OK);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'does not exist';
    if (code === 'EACCES' || code === 'EPERM') return 'is not readable (permission denied)';
    return `cannot be read (${code ?? 'unknown error'})`;
  }
}

/** Run after resolveTlsFiles. */
export async function checkTlsFiles(
  config: unknown,
  source: ConfigSource,
  interpolated: InterpolatedPaths,
): Promise<ConfigIssue[]> {
  const issues: ConfigIssue[] = [];
  for (const { upstream, key, tls } of tlsFiles(config)) {
    const path = tls[key] as string;
    const problem = await problemWith(path);
    if (problem === undefined) continue;
    const segments = ['upstreams', upstream, 'tls', key];
    const shown = describeValue(interpolated, formatKeyPath(segments), path);
    issues.push(source.valueIssue(segments, `${shown} ${problem}`));
  }
  return issues;
}

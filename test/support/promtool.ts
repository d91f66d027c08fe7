/** promtool from the Prometheus release; CI installs it, so there a missing promtool fails instead of skipping. */
import { spawnSync } from 'node:child_process';

const probe = spawnSync('promtool', ['--version'], { encoding: 'utf8' });

/** A skip reason for tap, or false. Under CI (CI=true) never a skip: the test then fails loudly. */
export const promtoolMissing: string | false =
  probe.error && process.env['CI'] !== 'true'
    ? `promtool is not installed (${probe.error.message}); .ci/run installs it`
    : false;

export function promtool(args: string[], input?: string): { status: number | null; output: string } {
  const run = spawnSync('promtool', args, { input, encoding: 'utf8' });
  if (run.error) throw run.error;
  return { status: run.status, output: `${run.stdout}${run.stderr}`.trim() };
}

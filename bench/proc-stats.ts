/**
 * CPU time and memory of one process, read from Linux /proc: what a benchmark cell charges to the
 * proxy. The CPU counters cover every thread of the process (GC, libuv pool), in clock ticks.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

/** Clock ticks per second (`getconf CLK_TCK`), 100 on nearly every Linux. */
export const clockTicksPerSecond: number = (() => {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isInteger(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU time the process has used so far, in microseconds (resolution: one tick). */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may contain spaces: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 (utime) and 15 (stime) of proc(5); field 3 is at index 0 here.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1_000_000) / clockTicksPerSecond;
}

export interface MemorySample {
  /** Resident set size now, in KiB. */
  readonly rssKiB: number;
  /** Peak resident set size (since start or the last resetPeakRss), in KiB. */
  readonly peakRssKiB: number;
}

function statusField(status: string, name: string): number {
  const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(status);
  return match ? Number(match[1]) : Number.NaN;
}

export function memory(pid: number): MemorySample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { rssKiB: statusField(status, 'VmRSS'), peakRssKiB: statusField(status, 'VmHWM') };
}

/**
 * Resets VmHWM to the current RSS (proc(5), clear_refs "5"), so each cell reports its own peak.
 * Returns false where that is not allowed; the peak then spans the process's whole life.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export interface MachineCpu {
  /** CPU time all cores spent busy (user, nice, system, irq, softirq), in microseconds. */
  readonly busyMicros: number;
  /** Time the hypervisor ran something else while we wanted a core (steal), in microseconds. */
  readonly stealMicros: number;
}

/** The whole machine's CPU counters from the first line of /proc/stat. */
export function machineCpu(): MachineCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const micros = (ticks: number) => (ticks * 1_000_000) / clockTicksPerSecond;
  return { busyMicros: micros(user + nice + system + irq + softirq), stealMicros: micros(steal) };
}

/**
 * Rule profiles. `production` uses the windows and `for:` durations the alerts are designed with;
 * `test` divides every one of them by 30 (5m → 10s, 30d → 1d) so a real Prometheus scraping every
 * second can show an alert going from healthy to firing within a test's time.
 */

export type ProfileName = 'production' | 'test';

export interface Profile {
  readonly name: ProfileName;
  /** Every window and `for:` is multiplied by this. */
  readonly scale: number;
}

export const profiles: Readonly<Record<ProfileName, Profile>> = {
  production: { name: 'production', scale: 1 },
  test: { name: 'test', scale: 1 / 30 },
};

const units: readonly (readonly [string, number])[] = [
  ['d', 86400],
  ['h', 3600],
  ['m', 60],
  ['s', 1],
];

/** Seconds as a Prometheus duration (`1h30m`, `10s`). Sub-second remainders are rounded. */
export function promDuration(seconds: number): string {
  let rest = Math.max(1, Math.round(seconds));
  let text = '';
  for (const [unit, size] of units) {
    if (rest < size) continue;
    text += `${Math.floor(rest / size)}${unit}`;
    rest %= size;
  }
  return text;
}

/** A window or `for:` of `seconds` under the profile. */
export function window(profile: Profile, seconds: number): string {
  return promDuration(seconds * profile.scale);
}

export const minute = 60;
export const hour = 60 * minute;
export const day = 24 * hour;

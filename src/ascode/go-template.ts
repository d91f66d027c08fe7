/**
 * The few Go-template forms the generated annotations use (`{{ $labels.x }}`, `{{ $value | fn }}`)
 * and Prometheus' humanize functions, formatted as Go formats them. promtool test rules compares
 * annotations exactly, so the generated test cases render the expected text with these.
 */

/** Go's `%.4g`: four significant digits, trailing zeros dropped, exponent form outside 1e-4 … 1e4. */
export function goG4(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : '-Inf';
  if (value === 0) return '0';
  const [mantissa, exponentText] = value.toExponential(3).split('e') as [string, string];
  const exponent = Number(exponentText);
  const trim = (digits: string) => (digits.includes('.') ? digits.replace(/\.?0+$/, '') : digits);
  if (exponent < -4 || exponent >= 4) {
    const sign = exponent < 0 ? '-' : '+';
    return `${trim(mantissa)}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  return trim(value.toFixed(Math.max(0, 3 - exponent)));
}

const largePrefixes = ['k', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y'];
const smallPrefixes = ['m', 'u', 'n', 'p', 'f', 'a', 'z', 'y'];

function scaledDown(value: number): [number, string] {
  let prefix = '';
  let scaled = value;
  for (const next of smallPrefixes) {
    if (Math.abs(scaled) >= 1) break;
    prefix = next;
    scaled *= 1000;
  }
  return [scaled, prefix];
}

export function humanize(value: number): string {
  if (value === 0 || !Number.isFinite(value)) return goG4(value);
  if (Math.abs(value) >= 1) {
    let prefix = '';
    let scaled = value;
    for (const next of largePrefixes) {
      if (Math.abs(scaled) < 1000) break;
      prefix = next;
      scaled /= 1000;
    }
    return `${goG4(scaled)}${prefix}`;
  }
  const [scaled, prefix] = scaledDown(value);
  return `${goG4(scaled)}${prefix}`;
}

export function humanize1024(value: number): string {
  if (Math.abs(value) <= 1 || !Number.isFinite(value)) return goG4(value);
  let prefix = '';
  let scaled = value;
  for (const next of ['ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei', 'Zi', 'Yi']) {
    if (Math.abs(scaled) < 1024) break;
    prefix = next;
    scaled /= 1024;
  }
  return `${goG4(scaled)}${prefix}`;
}

export function humanizeDuration(value: number): string {
  if (!Number.isFinite(value)) return goG4(value);
  if (value === 0) return '0s';
  if (Math.abs(value) >= 1) {
    const sign = value < 0 ? '-' : '';
    const positive = Math.abs(value);
    const whole = Math.trunc(positive);
    const seconds = whole % 60;
    const minutes = Math.trunc(whole / 60) % 60;
    const hours = Math.trunc(whole / 3600) % 24;
    const days = Math.trunc(whole / 86400);
    if (days !== 0) return `${sign}${days}d ${hours}h ${minutes}m ${seconds}s`;
    if (hours !== 0) return `${sign}${hours}h ${minutes}m ${seconds}s`;
    if (minutes !== 0) return `${sign}${minutes}m ${seconds}s`;
    return `${sign}${goG4(positive)}s`;
  }
  const [scaled, prefix] = scaledDown(value);
  return `${goG4(scaled)}${prefix}s`;
}

export function humanizePercentage(value: number): string {
  return `${goG4(value * 100)}%`;
}

const functions: Readonly<Record<string, (value: number) => string>> = {
  humanize,
  humanize1024,
  humanizeDuration,
  humanizePercentage,
};

/** Renders `{{ $labels.name }}` and `{{ $value | fn }}`; anything else is an error, so templates stay within what tests can check. */
export function renderAnnotation(
  template: string,
  labels: Readonly<Record<string, string>>,
  value: number,
): string {
  return template.replace(/\{\{\s*([^}]*?)\s*\}\}/g, (_, body: string) => {
    const label = /^\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)$/.exec(body);
    if (label) return labels[label[1]!] ?? '';
    const piped = /^\$value\s*\|\s*([a-zA-Z0-9]+)$/.exec(body);
    const format = piped ? functions[piped[1]!] : undefined;
    if (format) return format(value);
    throw new Error(`unsupported template expression {{ ${body} }} in "${template}"`);
  });
}

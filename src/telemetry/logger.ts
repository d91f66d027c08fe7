/** The JSON logger (pino). Secrets are redacted by path before a line is serialised. */
import { type DestinationStream, type Logger, pino } from 'pino';
import type { TelemetryConfig } from '../config/types.generated.ts';

/** Always redacted, whatever the config lists. */
export const alwaysRedactedHeaders = [
  'authorization',
  'proxy-authorization',
  'x-api-key',
  'api-key',
  'cookie',
  'set-cookie',
];

export function redactedHeaderNames(config: Pick<TelemetryConfig, 'redact_headers'>): string[] {
  return [...new Set([...alwaysRedactedHeaders, ...config.redact_headers.map((h) => h.toLowerCase())])];
}

let cachedSecond = Number.NaN;
let cachedPrefix = '';

/**
 * The same ISO 8601 UTC time as pino's isoTime, without a Date and toISOString() per line (a
 * measurable share of an access-log line's cost): the part up to the second is built once a second.
 */
export function isoTimestamp(now = Date.now()): string {
  const second = Math.floor(now / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  return `,"time":"${cachedPrefix}${String(now - second * 1000).padStart(3, '0')}Z"`;
}

export function createLogger(config: TelemetryConfig, destination: DestinationStream): Logger {
  const headerPaths = redactedHeaderNames(config).flatMap((name) => [
    `req.headers["${name}"]`,
    `res.headers["${name}"]`,
    `headers["${name}"]`,
  ]);
  return pino(
    {
      level: config.log_level,
      base: { service: 'sluice' },
      timestamp: () => isoTimestamp(),
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: headerPaths, censor: '[redacted]' },
    },
    destination,
  );
}

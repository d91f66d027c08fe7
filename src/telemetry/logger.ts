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

export function createLogger(config: TelemetryConfig, destination?: DestinationStream): Logger {
  const headerPaths = redactedHeaderNames(config).flatMap((name) => [
    `req.headers["${name}"]`,
    `res.headers["${name}"]`,
    `headers["${name}"]`,
  ]);
  return pino(
    {
      level: config.log_level,
      base: { service: 'sluice' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: headerPaths, censor: '[redacted]' },
    },
    destination ?? pino.destination({ dest: 1, sync: false, minLength: 0 }),
  );
}

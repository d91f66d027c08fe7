/**
 * A route's compression settings, their defaults and their eager validation: a bad level or content
 * type pattern is refused when the config loads, with the name of the field, not on the first
 * response it would have compressed.
 */
import { checkLevel, defaultLevels } from './encoder.ts';
import { contentTypeMatcher } from './media-type.ts';
import { type ContentCoding, contentCodings, defaultPreference, Negotiator } from './negotiate.ts';
import { type RequestCoding, requestCodings } from './request-decoder.ts';

/** The settings as a route's config gives them. */
export interface CompressionOptions {
  /** Codings offered, in order of preference (ties in the client's q-values go to the first). */
  readonly encodings: readonly ContentCoding[];
  /** Bodies of a known length below this are sent as they are: the framing would cost more. */
  readonly minBytes: number;
  /** Media types compressed (`text/*`, `application/json`, ...). SSE is governed by `sse` alone. */
  readonly contentTypes: readonly string[];
  readonly levels: Readonly<Record<ContentCoding, number>>;
  /** Compress `text/event-stream`, flushed after every event; false leaves SSE alone. */
  readonly sse: boolean;
  /** Content codings accepted on request bodies; none by default, a route opts in. */
  readonly requestEncodings: readonly RequestCoding[];
}

export const compressionDefaults: CompressionOptions = {
  encodings: defaultPreference,
  // About where gzip's ~20 bytes of framing and a TCP packet's size make compressing pointless.
  minBytes: 1024,
  contentTypes: [
    'text/*',
    'application/json',
    'application/*+json',
    'application/x-ndjson',
    'application/javascript',
    'application/xml',
    'application/*+xml',
  ],
  levels: defaultLevels,
  sse: true,
  requestEncodings: [],
};

/** The settings compiled for request time (one object per route and config generation). */
export interface CompressionSettings extends CompressionOptions {
  readonly matchesContentType: (mediaType: string) => boolean;
  readonly negotiator: Negotiator;
}

function check(ok: boolean, path: string, rule: string, value: unknown): void {
  if (!ok) throw new RangeError(`${path} must be ${rule}, got ${String(value)}`);
}

function checkList<T extends string>(values: readonly T[], allowed: readonly T[], path: string): void {
  for (const value of values) check(allowed.includes(value), path, `among ${allowed.join(', ')}`, value);
  check(new Set(values).size === values.length, path, 'without duplicates', values.join(', '));
}

/** The defaults with `overrides` on top, validated and compiled once. */
export function resolveCompressionSettings(overrides: Partial<CompressionOptions> = {}): CompressionSettings {
  const options: CompressionOptions = {
    ...compressionDefaults,
    ...overrides,
    levels: { ...compressionDefaults.levels, ...overrides.levels },
  };
  checkList(options.encodings, contentCodings, 'encodings');
  checkList(options.requestEncodings, requestCodings, 'requestEncodings');
  check(
    Number.isInteger(options.minBytes) && options.minBytes >= 0,
    'minBytes',
    'an integer ≥ 0',
    options.minBytes,
  );
  for (const coding of contentCodings) checkLevel(coding, options.levels[coding]);
  return Object.freeze({
    ...options,
    encodings: Object.freeze([...options.encodings]),
    contentTypes: Object.freeze([...options.contentTypes]),
    levels: Object.freeze({ ...options.levels }),
    requestEncodings: Object.freeze([...options.requestEncodings]),
    matchesContentType: contentTypeMatcher(options.contentTypes),
    negotiator: new Negotiator(options.encodings),
  });
}

/**
 * Config schema of a route's response compression and compressed request bodies (docs/compression.md).
 * Defaults come from src/compression/settings.ts, so the schema and the runtime cannot disagree.
 */
import { compressionDefaults } from '../compression/settings.ts';

const level = (name: string, min: number, max: number, defaultValue: number) => ({
  type: 'integer',
  minimum: min,
  maximum: max,
  default: defaultValue,
  description: `${name} level (${min}-${max}).`,
});

export const routeCompression = {
  title: 'RouteCompression',
  type: 'object',
  description:
    'Compress responses by the client’s Accept-Encoding (q-values): zstd, br, gzip. Never twice (an upstream Content-Encoding passes through), never with Cache-Control: no-transform; adds Vary: Accept-Encoding and weakens a strong ETag. SSE is flushed after every event, so events still arrive one by one. Absent: responses are sent as the upstream sent them.',
  additionalProperties: false,
  properties: {
    encodings: {
      type: 'array',
      items: { type: 'string', enum: ['zstd', 'br', 'gzip'] },
      uniqueItems: true,
      minItems: 1,
      default: [...compressionDefaults.encodings],
      description: 'Codings offered, in order of preference when the client’s q-values tie.',
    },
    min_bytes: {
      type: 'integer',
      minimum: 0,
      default: compressionDefaults.minBytes,
      description: 'Bodies of a known length below this are sent uncompressed.',
    },
    content_types: {
      type: 'array',
      items: { type: 'string', pattern: '^[a-z0-9*.+-]+/[a-z0-9*.+-]+$' },
      default: [...compressionDefaults.contentTypes],
      description: 'Media types compressed (`*` matches within a part). SSE is governed by `sse` alone.',
    },
    levels: {
      type: 'object',
      title: 'CompressionLevels',
      additionalProperties: false,
      default: {},
      description: 'Compression level per coding: higher is smaller and slower.',
      properties: {
        gzip: level('gzip', 1, 9, compressionDefaults.levels.gzip),
        br: level('Brotli', 0, 11, compressionDefaults.levels.br),
        zstd: level('zstd', 1, 22, compressionDefaults.levels.zstd),
      },
    },
    sse: {
      type: 'boolean',
      default: true,
      description:
        'Compress `text/event-stream` responses, flushed after every event. false: leave streams alone.',
    },
    request_encodings: {
      type: 'array',
      items: { type: 'string', enum: ['gzip', 'deflate', 'br', 'zstd'] },
      uniqueItems: true,
      default: [],
      description:
        'Content-Encodings accepted on request bodies; Sluice decodes them before anything reads or forwards the body, with `listener.max_body_bytes` applied to the decoded size (a zip bomb gets 413). Another coding gets 415. Empty: request bodies pass through as sent.',
    },
  },
} as const;

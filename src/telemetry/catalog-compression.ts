/**
 * The metrics of response compression. Kept apart from catalog.ts only for size; catalog.ts spreads
 * them into the one metric catalog. `encoding` is one of zstd, br, gzip.
 */
import type { MetricSpec } from './catalog.ts';

export const compressionMetrics = {
  compressionResponses: {
    name: 'sluice_compression_responses_total',
    type: 'counter',
    help: 'Responses of routes with `compression`, by what was done: the coding used (zstd, br, gzip), or why the body went as it was: no_body, partial_content, already_encoded (the upstream encoded it), no_transform (Cache-Control: no-transform), content_type, sse_disabled, too_small, not_accepted (the client’s Accept-Encoding).',
    unit: '',
    labels: ['route', 'result'],
  },
  compressionBytes: {
    name: 'sluice_compression_bytes_total',
    type: 'counter',
    help: 'Bytes of compressed responses before (direction="in") and after (direction="out") compression, by route and coding; out ÷ in is the compression ratio.',
    unit: 'bytes',
    labels: ['route', 'encoding', 'direction'],
  },
} as const satisfies Record<string, MetricSpec>;

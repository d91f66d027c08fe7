/**
 * Response compression: what was done with each response of a compressing route (the coding used,
 * or why it went as it was), the bytes before and after compression, and the compressed size as a
 * share of the original with the alert threshold. No row when no route has `compression`.
 */
import { compressingRoutes } from '../compression.ts';
import type { RowBuilder } from './layout.ts';
import { redFrom, series, sumRate, timeseries } from './panels.ts';

export const compressionRow: RowBuilder = (ctx) => {
  if (compressingRoutes(ctx).length === 0) return undefined;
  const bytes = (direction: string) => series(ctx, 'compressionBytes', '', `direction="${direction}"`);
  return {
    title: 'Compression',
    panels: [
      timeseries({
        title: 'Responses by compression result',
        description:
          'Responses per second of routes with `compression`, by what was done: the coding used (zstd, br, gzip), or why the body went as it was (no_body, partial_content, already_encoded, no_transform, content_type, sse_disabled, too_small, not_accepted).',
        unit: 'reqps',
        stacked: true,
        width: 24,
        queries: [
          {
            expr: sumRate(['route', 'result'], series(ctx, 'compressionResponses')),
            legend: '{{route}} {{result}}',
          },
        ],
      }),
      timeseries({
        title: 'Bytes before and after compression',
        description:
          'Bytes per second of compressed responses, by route and coding: before compression (in) and as sent (out). The gap between them is the bandwidth saved.',
        unit: 'Bps',
        queries: [
          {
            expr: sumRate(['route', 'encoding', 'direction'], series(ctx, 'compressionBytes')),
            legend: '{{route}} {{encoding}} {{direction}}',
          },
        ],
      }),
      timeseries({
        title: 'Compressed size ratio by route',
        description:
          'Bytes sent over bytes before compression (out ÷ in), over every coding: lower is better. The dashed line is the default alert threshold (alerts.compression_ratio); alerts.routes may set others per route. SluiceCompressionRatioLow fires above it for 30 minutes.',
        unit: 'percentunit',
        min: 0,
        thresholds: redFrom(ctx.config.alerts.compression_ratio),
        queries: [
          {
            expr: `${sumRate(['route'], bytes('out'))}\n/\n${sumRate(['route'], bytes('in'))}`,
            legend: '{{route}}',
          },
        ],
      }),
    ],
  };
};

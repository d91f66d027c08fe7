/**
 * Alerts on response compression: a route whose compressed responses keep most of their size, so
 * the CPU spent compressing them saves little. Nothing is generated unless a route has
 * `compression`.
 */
import {
  type AlertDefinition,
  caseAt,
  groupedRule,
  testInstance as instance,
  overridesOf,
  percent,
  sel,
  selectorLabels,
  series,
  thresholdGroups,
  w,
} from './alert-definition.ts';
import { compressingRoutes } from './compression.ts';
import { minute } from './profile.ts';
import { metric, num } from './promql.ts';
import type { InputSeries } from './rule-model.ts';

const bytes = metric('compressionBytes');

export const compressionRatioLow: AlertDefinition = {
  name: 'SluiceCompressionRatioLow',
  severity: 'warning',
  summary: 'A route’s compressed responses keep most of their size: CPU spent for little saving.',
  description:
    'Route {{ $labels.route }}: compressed responses kept {{ $value | humanizePercentage }} of their size over the last 30 minutes, summed over instances and codings (threshold {threshold}). Compression costs CPU and latency here and saves little bandwidth.',
  forSeconds: 30 * minute,
  rules(ctx) {
    if (compressingRoutes(ctx).length === 0) return [];
    const { alerts } = ctx.config;
    const groups = thresholdGroups(
      'route',
      overridesOf(alerts.routes, 'compression_ratio'),
      alerts.compression_ratio,
    );
    // 30 minutes: the ratio depends on what was sent, and a few large bodies of already-compressed
    // content should not decide it.
    const win = w(ctx, 30 * minute);
    const compare = (matcher: string, threshold: number) => {
      const sent = (direction: string) =>
        `sum by (route) (rate(${bytes}${sel(ctx, `direction="${direction}"`, matcher)}[${win}]))`;
      return [
        sent('out'),
        `/ ${sent('in')}`,
        `> ${num(threshold)}`,
        // The ratio of a few small bodies says nothing: a quiet route must not fire.
        'and on (route)',
        `${sent('in')} >= ${num(alerts.compression_min_bytes_per_second)}`,
      ].join('\n');
    };
    return [groupedRule(groups, compare, percent)];
  },
  tests(ctx) {
    const [route] = compressingRoutes(ctx);
    const labels = selectorLabels(ctx);
    if (route === undefined || labels === undefined) return [];
    const { alerts } = ctx.config;
    const threshold = alerts.routes[route]?.compression_ratio ?? alerts.compression_ratio;
    const minimum = alerts.compression_min_bytes_per_second;
    const counter = (encoding: string, direction: string, perMinute: number): InputSeries => ({
      series: series(bytes, { ...labels, instance, route, encoding, direction }),
      values: `0+${num(perMinute)}x90`,
    });
    /** `perCoding` bytes a minute compressed by gzip and by br, each to `ratio` of their size. */
    const input = (perCoding: number, ratio: number) =>
      ['gzip', 'br'].flatMap((encoding) => [
        counter(encoding, 'in', perCoding),
        counter(encoding, 'out', Math.round(perCoding * ratio)),
      ]);
    // Busy: twice the minimum rate (at least 1 KiB/s) over both codings; quiet: half the minimum.
    const busy = Math.max(1024, Math.ceil(minimum * 2)) * 30;
    const quiet = Math.floor((minimum * 60) / 4);
    const poor = (threshold + 1) / 2;
    const good = threshold / 2;
    return [
      caseAt(`${route}: responses kept at ${percent(poor)} of their size fires`, input(busy, poor), 70, {
        labels: { severity: this.severity, route },
        value: Math.round(busy * poor) / busy,
        threshold: this.rules(ctx)[0]?.threshold,
      }),
      caseAt(
        `${route}: responses compressed to ${percent(good)} of their size stays silent`,
        input(busy, good),
        70,
        undefined,
      ),
      ...(quiet > 0
        ? [
            caseAt(
              `${route}: responses kept at ${percent(poor)}, but only ${num(quiet * 2)} bytes a minute, stays silent`,
              input(quiet, poor),
              70,
              undefined,
            ),
          ]
        : []),
    ];
  },
};

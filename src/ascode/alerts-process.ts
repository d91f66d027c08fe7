/** Alerts on the Sluice processes themselves: down, failing reloads, memory, event loop, LLM pricing. */
import {
  type AlertDefinition,
  caseAt,
  testInstance as instance,
  sel,
  selectorLabels,
  series,
  w,
} from './alert-definition.ts';
import { hour, minute } from './profile.ts';
import { metric, num } from './promql.ts';

/** An alert on one gauge of every Sluice process compared with a threshold. */
function gaugeAlert(options: {
  readonly name: string;
  readonly severity: 'critical' | 'warning';
  readonly summary: string;
  readonly description: string;
  readonly forSeconds: number;
  readonly series: string;
  readonly comparison: (ctx: Parameters<AlertDefinition['rules']>[0]) => { op: string; threshold: number };
  readonly formatThreshold?: (threshold: number) => string;
  /** The gauge's value when the alert should fire, and when it should not. */
  readonly values: (threshold: number) => { firing: number; healthy: number };
}): AlertDefinition {
  return {
    name: options.name,
    severity: options.severity,
    summary: options.summary,
    description: options.description,
    forSeconds: options.forSeconds,
    rules(ctx) {
      const { op, threshold } = options.comparison(ctx);
      return [
        {
          expr: `${options.series}${sel(ctx)} ${op} ${num(threshold)}`,
          threshold: (options.formatThreshold ?? num)(threshold),
        },
      ];
    },
    tests(ctx) {
      const labels = selectorLabels(ctx);
      if (labels === undefined) return [];
      const { threshold } = options.comparison(ctx);
      const { firing, healthy } = options.values(threshold);
      const at = { ...labels, instance };
      const evalMinutes = Math.ceil(options.forSeconds / minute) + 10;
      const input = (value: number) => [{ series: series(options.series, at), values: `${value}x60` }];
      return [
        caseAt(`${options.name}: ${num(firing)} fires`, input(firing), evalMinutes, {
          labels: { severity: options.severity, ...at },
          value: firing,
          threshold: (options.formatThreshold ?? num)(threshold),
        }),
        caseAt(`${options.name}: ${num(healthy)} stays silent`, input(healthy), evalMinutes, undefined),
      ];
    },
  };
}

export const targetDown = gaugeAlert({
  name: 'SluiceTargetDown',
  severity: 'critical',
  summary: 'Prometheus cannot scrape a Sluice process.',
  description:
    '{{ $labels.instance }} ({{ $labels.job }}) has not answered Prometheus’ scrapes for 5 minutes: the process is down, restarting, or its admin listener is unreachable.',
  forSeconds: 5 * minute,
  series: metric('scrapeUp'),
  comparison: () => ({ op: '==', threshold: 0 }),
  values: () => ({ firing: 0, healthy: 1 }),
});

export const targetMissing: AlertDefinition = {
  name: 'SluiceTargetMissing',
  severity: 'critical',
  summary: 'Prometheus has no Sluice target to scrape at all.',
  description:
    'Prometheus has had no up series for job {{ $labels.job }} for 5 minutes: service discovery lost every Sluice target, the scrape job was renamed, or alerts.selector no longer matches it.',
  forSeconds: 5 * minute,
  rules(ctx) {
    // up == 0 needs a target to report on; when discovery loses them all, only absent() notices.
    return [{ expr: `absent(${metric('scrapeUp')}${sel(ctx)})` }];
  },
  tests(ctx) {
    const labels = selectorLabels(ctx);
    if (labels === undefined) return [];
    const input = (job: Record<string, string>) => [
      { series: series(metric('scrapeUp'), { ...job, instance }), values: '1x60' },
    ];
    return [
      caseAt('only another job is scraped: fires', input({ job: 'something-else' }), 15, {
        labels: { severity: this.severity, ...labels },
        value: 1,
      }),
      caseAt('a Sluice target is scraped: silent', input(labels), 15, undefined),
    ];
  },
};

export const configReloadFailing = gaugeAlert({
  name: 'SluiceConfigReloadFailing',
  severity: 'warning',
  summary: 'Sluice failed to load its latest config and still runs the previous one.',
  description:
    '{{ $labels.instance }}: the last config reload failed and has not succeeded since; the process keeps serving with the config it had. Its log names the file, line and key.',
  forSeconds: 5 * minute,
  series: metric('configLastReloadSuccessful'),
  comparison: () => ({ op: '==', threshold: 0 }),
  values: () => ({ firing: 0, healthy: 1 }),
});

export const memoryHigh = gaugeAlert({
  name: 'SluiceMemoryHigh',
  severity: 'warning',
  summary: 'A Sluice process uses more memory than its configured threshold.',
  description:
    '{{ $labels.instance }}: resident memory is {{ $value | humanize1024 }}B (threshold {threshold}) for 15 minutes.',
  forSeconds: 15 * minute,
  series: metric('residentMemory'),
  comparison: (ctx) => ({ op: '>', threshold: ctx.config.alerts.memory_bytes }),
  formatThreshold: (threshold) => `${num(threshold / 1048576)} MiB`,
  values: (threshold) => ({ firing: threshold * 2, healthy: Math.floor(threshold / 2) }),
});

export const eventLoopDelayHigh = gaugeAlert({
  name: 'SluiceEventLoopDelayHigh',
  severity: 'warning',
  summary: 'A Sluice process’s event loop is delayed: every request through it waits.',
  description:
    '{{ $labels.instance }}: p99 event-loop delay is {{ $value | humanizeDuration }} (threshold {threshold}) for 10 minutes; the process is CPU-bound or blocked.',
  forSeconds: 10 * minute,
  series: metric('eventLoopDelayP99'),
  comparison: (ctx) => ({ op: '>', threshold: ctx.config.alerts.event_loop_delay_seconds }),
  formatThreshold: (threshold) => `${num(threshold * 1000)}ms`,
  values: (threshold) => ({ firing: threshold * 4, healthy: threshold / 10 }),
});

const unpriced = metric('llmUnpriced');

export const llmUnpricedModel: AlertDefinition = {
  name: 'SluiceLlmUnpricedModel',
  severity: 'info',
  summary: 'LLM responses came from a model with no configured price, so their cost is not counted.',
  description:
    'Route {{ $labels.route }}, upstream {{ $labels.upstream }}: {{ $value | humanize }} responses in the last hour from model label {{ $labels.gen_ai_request_model }} matched no configured price (upstreams.<name>.prices, then llm.prices); cost is under-reported.',
  forSeconds: 0,
  rules(ctx) {
    return [
      {
        expr: `sum by (route, upstream, gen_ai_request_model) (increase(${unpriced}${sel(ctx)}[${w(ctx, hour)}])) > 0`,
      },
    ];
  },
  tests(ctx) {
    const labels = selectorLabels(ctx);
    const route = ctx.config.routes[0];
    if (labels === undefined || route === undefined) return [];
    const at = { ...labels, route: route.name, upstream: route.upstream, gen_ai_request_model: 'other' };
    const input = (perMinute: number) => [{ series: series(unpriced, at), values: `0+${perMinute}x90` }];
    const { route: routeName, upstream, gen_ai_request_model } = at;
    // Evaluated once a whole hour of samples is in the window, so increase() needs no extrapolation.
    return [
      caseAt('5 unpriced responses a minute fire', input(5), 70, {
        labels: { severity: this.severity, route: routeName, upstream, gen_ai_request_model },
        value: 5 * 60,
      }),
      caseAt('no unpriced response stays silent', input(0), 70, undefined),
    ];
  },
};

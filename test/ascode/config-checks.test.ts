import t from 'tap';
import { parseConfig } from '../../src/config/load.ts';
import { brief, issuesOf } from '../config/helpers.ts';

const lines = (...text: string[]) => `${text.join('\n')}\n`;
const base = [
  'upstreams:',
  '  main:',
  '    url: http://127.0.0.1:9000',
  'routes:',
  '  - name: chat',
  '    upstream: main',
];

t.test(
  'alerts name existing routes, upstreams and alerts; latency thresholds the histogram can show',
  async (t) => {
    const text = lines(
      ...base,
      'alerts:', //                                       7
      '  latency_p95_seconds: 400',
      '  routes:',
      '    chta: { error_ratio: 0.1 }', //                  10
      '  upstreams:',
      '    other: { pool_utilization: 0.5 }', //            12
      '  disabled: [SluiceRouteErrorRatioHihg]', //        13
    );
    t.same(issuesOf(text).map(brief), [
      '8:24 alerts.latency_p95_seconds: 400 is at or above the largest finite bucket of sluice_http_request_duration_seconds (320s), so p95 can never exceed it; use a smaller threshold',
      '10:5 alerts.routes.chta: unknown route "chta" (did you mean "chat"?); routes are: chat',
      '12:5 alerts.upstreams.other: unknown upstream "other"; upstreams are: main',
      '13:14 alerts.disabled[0]: unknown alert "SluiceRouteErrorRatioHihg" (did you mean "SluiceRouteErrorRatioHigh"?); alerts are: SluiceRouteErrorRatioHigh, SluiceRouteLatencyHigh, SluiceRouteThroughputLow, SluiceCacheL1HitRatioLow, SluiceCacheL2HitRatioLow, SluiceCacheHitRatioLow, SluiceCacheL1Full, SluiceCacheL2Failing, SluiceUpstreamErrorsHigh, SluiceUpstreamUnreachable, SluiceUpstreamPoolSaturated, SluiceUpstreamPoolWaitHigh, SluiceUpstreamBreakerOpen, SluiceUpstreamBreakerFlapping, SluiceUpstreamRetryBudgetExhausted, SluiceRouteAllTargetsDown, SluiceRateLimitRejectionsSurge, SluiceRateLimitStoreDown, SluiceConcurrencyQueueBacklog, SluiceConcurrencyQueueWaitHigh, SluiceCompressionRatioLow, SluiceTargetDown, SluiceTargetMissing, SluiceConfigReloadFailing, SluiceMemoryHigh, SluiceEventLoopDelayHigh, SluiceLlmUnpricedModel, SluiceSloErrorBudgetBurnFast, SluiceSloErrorBudgetBurnSlow',
    ]);
  },
);

t.test(
  'queue-wait thresholds below the largest bucket, by default, per route and per upstream',
  async (t) => {
    const text = lines(
      ...base,
      'alerts:', //                                       7
      '  concurrency_queue_wait_p95_seconds: 60',
      '  routes:',
      '    chat: { concurrency_queue_wait_p95_seconds: 90, concurrency_queue_depth: 20 }', // 10
      '  upstreams:',
      '    main: { concurrency_queue_wait_p95_seconds: 30 }', //  12
    );
    t.same(issuesOf(text).map(brief), [
      '8:39 alerts.concurrency_queue_wait_p95_seconds: 60 is at or above the largest finite bucket of sluice_concurrency_queue_wait_seconds (60s), so p95 can never exceed it; use a smaller threshold',
      '10:49 alerts.routes.chat.concurrency_queue_wait_p95_seconds: 90 is at or above the largest finite bucket of sluice_concurrency_queue_wait_seconds (60s), so p95 can never exceed it; use a smaller threshold',
    ]);
    const { config } = parseConfig(lines(...base), 'test.yaml', {});
    t.match(config.alerts, {
      rate_limit_rejection_ratio: 0.1,
      rate_limit_min_requests_per_second: 0.1,
      concurrency_queue_depth: 100,
      concurrency_queue_wait_p95_seconds: 5,
      breaker_trips_per_second: 0.005,
    });
  },
);

t.test('SLOs: unique names, existing routes, latency thresholds on a bucket boundary', async (t) => {
  const text = lines(
    ...base,
    'slos:',
    '  - { name: a, route: chat, sli: availability, objective: 99.9 }',
    '  - { name: a, route: chat, sli: availability, objective: 99 }', //            9
    '  - { name: b, route: nope, sli: latency, objective: 99 }', //                  10
    '  - { name: c, route: chat, sli: latency, objective: 99, latency_threshold_seconds: 3 }', // 11
    '  - { name: d, route: chat, sli: availability, objective: 99, latency_threshold_seconds: 5 }', // 12
    '  - { name: e, route: chat, sli: availability, objective: 100 }', //            13
  );
  t.same(issuesOf(text).map(brief), [
    '9:13 slos[1].name: duplicate SLO name "a" (also slos[0].name)',
    '10:23 slos[2].route: unknown route "nope"; routes are: chat',
    '10:29 slos[2].sli: a latency SLI needs latency_threshold_seconds',
    '11:85 slos[3].latency_threshold_seconds: 3 is not a bucket boundary of sluice_http_request_duration_seconds, so the SLI could not be counted exactly; use one of 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320',
    '12:63 slos[4].latency_threshold_seconds: only latency SLIs have a threshold (this SLO is sli: availability)',
    '13:59 slos[5].objective: must be a number < 100, got 100',
  ]);
});

t.test('a config without alerts or slos gets the defaults', async (t) => {
  const { config } = parseConfig(lines(...base), 'test.yaml', {});
  t.equal(config.alerts.error_ratio, 0.05);
  t.equal(config.alerts.selector, 'job="sluice"');
  t.same(config.slos, []);
});

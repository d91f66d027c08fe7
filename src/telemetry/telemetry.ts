/** Process-wide telemetry: one metric registry and logger that outlive config reloads. */
import type { DestinationStream, Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { TelemetryConfig } from '../config/types.generated.ts';
import { version } from '../version.ts';
import { BatchedDestination, LOG_FLUSH_INTERVAL_MS } from './log-destination.ts';
import { createLogger } from './logger.ts';
import { type Metrics, registerMetrics } from './metrics.ts';

export interface Telemetry {
  readonly registry: Registry;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** The logger's destination (stdout unless a test or embedder gave another). */
  readonly destination: DestinationStream;
  /** Called before each scrape, to refresh gauges read from elsewhere (undici pool stats). */
  readonly beforeScrape: Set<() => void>;
}

const MISNAMED_DEFAULT_GAUGES = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
] as const;

export function createTelemetry(config: TelemetryConfig, destination?: DestinationStream): Telemetry {
  const registry = new Registry();
  const metrics = registerMetrics(registry);
  // Runtime metrics (event loop delay, heap, RSS, CPU, GC) from prom-client's Node.js collectors.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  // prom-client names these gauges `_total`, which the exposition format reserves for counters; promtool rejects them.
  for (const misnamed of MISNAMED_DEFAULT_GAUGES) registry.removeSingleMetric(misnamed);
  metrics.buildInfo.labels(version, process.versions.node).set(1);
  metrics.draining.set(0);
  const sink =
    destination ??
    new BatchedDestination({
      fd: 1,
      flushIntervalMs: LOG_FLUSH_INTERVAL_MS,
      onDrop: (lines) => metrics.logLinesDropped.inc(lines),
    });
  return {
    registry,
    metrics,
    logger: createLogger(config, sink),
    destination: sink,
    beforeScrape: new Set(),
  };
}

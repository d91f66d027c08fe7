/** The Node.js process under each instance: event loop, memory, garbage collection, CPU. */
import type { RowBuilder } from './layout.ts';
import { redFrom, series, sumRate, timeseries } from './panels.ts';

export const runtimeRow: RowBuilder = (ctx) => ({
  title: 'Runtime',
  collapsed: true,
  panels: [
    timeseries({
      title: 'Event loop delay p99',
      description:
        'The 99th percentile of the event loop delay per instance: how late timers and I/O callbacks run. Every request waits this long when it is high. The dashed line is alerts.event_loop_delay_seconds.',
      unit: 's',
      thresholds: redFrom(ctx.config.alerts.event_loop_delay_seconds),
      queries: [{ expr: `max by (instance) (${series(ctx, 'eventLoopDelayP99')})`, legend: '{{instance}}' }],
    }),
    timeseries({
      title: 'Memory',
      description:
        'Resident memory and V8 heap used per instance. Resident memory growing while the heap stays flat points at buffers outside the heap. The dashed line is alerts.memory_bytes.',
      unit: 'bytes',
      thresholds: redFrom(ctx.config.alerts.memory_bytes),
      queries: [
        { expr: `max by (instance) (${series(ctx, 'residentMemory')})`, legend: '{{instance}} resident' },
        { expr: `max by (instance) (${series(ctx, 'heapUsed')})`, legend: '{{instance}} heap used' },
      ],
    }),
    timeseries({
      title: 'GC time by kind',
      description:
        'Share of wall-clock time spent in garbage collection per instance and GC kind (major, minor, incremental, weakcb); 0.1 is 100 ms per second.',
      unit: 'percentunit',
      stacked: true,
      queries: [
        {
          expr: sumRate(['instance', 'kind'], series(ctx, 'gcDuration', '_sum')),
          legend: '{{instance}} {{kind}}',
        },
      ],
    }),
    timeseries({
      title: 'CPU',
      description:
        'CPU time (user plus system) per second of wall-clock time per instance; 100% is one core, and the event loop can use at most about one.',
      unit: 'percentunit',
      queries: [{ expr: sumRate(['instance'], series(ctx, 'cpuSeconds')), legend: '{{instance}}' }],
    }),
  ],
});

/**
 * A running Sluice: the proxy and admin listeners, the current config generation, reload and
 * graceful shutdown. `sluice serve` and the tests start Sluice through here.
 */
import type { Server } from 'node:http';
import type { DestinationStream } from 'pino';
import { ResponseCache } from '../cache/response-cache.ts';
import { ConfigError } from '../config/errors.ts';
import { type LoadedConfig, loadConfig } from '../config/load.ts';
import { poolStatsHook } from '../telemetry/pool-metrics.ts';
import { createTelemetry, type Telemetry } from '../telemetry/telemetry.ts';
import { Accounting } from './accounting.ts';
import { type AdminServer, startAdminServer } from './admin.ts';
import { BuiltinMocks } from './builtin-mocks.ts';
import { DrainTracker } from './drain.ts';
import { type EffectiveConfig, Generation, UpstreamRegistry } from './generation.ts';
import { createProxyServer, listen } from './proxy-server.ts';
import { TrafficControl } from './traffic-control.ts';
import { UpstreamGroups } from './upstream-groups.ts';

export interface SluiceOptions {
  /** Where logs go; stdout by default. */
  readonly logDestination?: DestinationStream;
  readonly env?: NodeJS.ProcessEnv;
}

export type ReloadResult = { ok: true } | { ok: false; error: string };

export class Sluice {
  readonly telemetry: Telemetry;
  readonly file: string;
  private generation: Generation;
  private readonly registry = new UpstreamRegistry();
  private readonly groups: UpstreamGroups;
  private readonly tracker = new DrainTracker();
  private readonly accounting: Accounting;
  private readonly cache: ResponseCache;
  private readonly traffic: TrafficControl;
  private readonly mocks: BuiltinMocks;
  private readonly env: NodeJS.ProcessEnv;
  private server: Server | undefined;
  private admin: AdminServer | undefined;
  private draining = false;
  private reloading: Promise<ReloadResult> | undefined;
  proxyPort = 0;

  private constructor(loaded: LoadedConfig, mocks: BuiltinMocks, options: SluiceOptions) {
    const config = loaded.config as EffectiveConfig;
    this.file = loaded.file;
    this.env = options.env ?? process.env;
    this.mocks = mocks;
    this.telemetry = createTelemetry(config.telemetry, options.logDestination);
    this.accounting = new Accounting(
      this.telemetry.metrics,
      this.telemetry.logger,
      this.telemetry.destination,
      config.telemetry.access_log,
    );
    this.accounting.llm.configure(config.llm, config.upstreams);
    this.cache = new ResponseCache(config.cache, this.telemetry.metrics, this.telemetry.logger);
    this.telemetry.beforeScrape.add(() => this.cache.reportGauges());
    this.traffic = new TrafficControl(this.telemetry.metrics, this.telemetry.logger);
    this.telemetry.beforeScrape.add(() => this.traffic.reportGauges());
    this.groups = new UpstreamGroups(this.telemetry.metrics, this.telemetry.logger);
    this.telemetry.beforeScrape.add(() =>
      this.groups.reportGauges(
        this.generation.routes.map((route) => ({ route: route.runtime.name, chain: route.chain })),
      ),
    );
    this.generation = this.buildGeneration(config);
    this.telemetry.beforeScrape.add(
      poolStatsHook(this.telemetry.metrics, () =>
        [...this.registry.all()].map((target) => ({
          name: target.upstream,
          pool: target.pool,
          maxConnections: target.config.pool.connections,
        })),
      ),
    );
    this.recordReload(true);
  }

  /** Loads `file`, starts the built-in mock for `mock://` upstreams, and listens. */
  static async start(file: string, options: SluiceOptions = {}): Promise<Sluice> {
    const loaded = await loadConfig(file, options.env ?? process.env);
    const mocks = new BuiltinMocks();
    await mocks.ensure(loaded.config as EffectiveConfig);
    const sluice = new Sluice(loaded, mocks, options);
    await sluice.listen();
    return sluice;
  }

  get config(): EffectiveConfig {
    return this.generation.config;
  }

  get proxyUrl(): string {
    return `http://127.0.0.1:${this.proxyPort}`;
  }

  get adminUrl(): string | undefined {
    return this.admin?.url;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  private buildGeneration(config: EffectiveConfig): Generation {
    return new Generation(config, {
      registry: this.registry,
      telemetry: this.telemetry,
      resolveUrl: (url) => this.mocks.resolve(url),
      tracker: this.tracker,
      cache: this.cache,
      traffic: this.traffic,
      groups: this.groups,
    });
  }

  private async listen(): Promise<void> {
    const { listener, admin } = this.config;
    this.server = createProxyServer(listener, {
      current: () => this.generation,
      isDraining: () => this.draining,
      telemetry: this.telemetry,
      accounting: this.accounting,
    });
    this.proxyPort = await listen(this.server, listener.host, listener.port);
    if (admin.enabled) {
      this.admin = await startAdminServer(
        { host: admin.host, port: admin.port },
        {
          telemetry: this.telemetry,
          isReady: () => !this.draining,
          isDraining: () => this.draining,
          adminConfig: () => this.config.admin,
          effectiveConfig: () => this.config,
          cache: { cache: this.cache, config: () => this.config },
        },
      );
    }
    this.telemetry.logger.info(
      {
        proxy: `${listener.host}:${this.proxyPort}`,
        admin: this.admin?.url,
        config: this.file,
        routes: this.config.routes.length,
      },
      'sluice listening',
    );
    // Supervisors and scripts wait for this line; it must not sit in the log buffer.
    this.telemetry.logger.flush();
  }

  private recordReload(success: boolean): void {
    const { metrics } = this.telemetry;
    metrics.configLastReloadSuccessful.set(success ? 1 : 0);
    if (success) metrics.configLastReloadSuccess.set(Date.now() / 1000);
  }

  /** Loads the file again; the new config serves new requests only if all of it is valid. */
  reload(): Promise<ReloadResult> {
    // Reloads run one at a time; a reload asked for during one waits for it and then runs.
    const run = async (): Promise<ReloadResult> => {
      const { logger, metrics } = this.telemetry;
      try {
        const loaded = await loadConfig(this.file, this.env);
        const config = loaded.config as EffectiveConfig;
        await this.mocks.ensure(config);
        const next = this.buildGeneration(config);
        const previous = this.generation;
        this.generation = next;
        this.applyRuntimeSettings(previous.config, config);
        void previous.retire();
        metrics.configReloads.labels('success').inc();
        this.recordReload(true);
        logger.info({ config: this.file, routes: config.routes.length }, 'config reloaded');
        return { ok: true };
      } catch (error) {
        metrics.configReloads.labels('failure').inc();
        this.recordReload(false);
        const message = error instanceof Error ? error.message : String(error);
        logger.error(
          {
            config: this.file,
            issues: error instanceof ConfigError ? error.issues : undefined,
            error: message,
          },
          'config reload failed; the previous config keeps serving',
        );
        return { ok: false, error: message };
      }
    };
    const queued = (this.reloading ?? Promise.resolve()).then(run, run);
    this.reloading = queued;
    return queued;
  }

  private applyRuntimeSettings(previous: EffectiveConfig, next: EffectiveConfig): void {
    this.telemetry.logger.level = next.telemetry.log_level;
    this.accounting.accessLog = next.telemetry.access_log;
    this.accounting.llm.configure(next.llm, next.upstreams);
    this.cache.configure(next.cache);
    const restartOnly = (['listener', 'admin'] as const).filter(
      (key) => JSON.stringify(previous[key]) !== JSON.stringify(next[key]),
    );
    if (restartOnly.length > 0) {
      this.telemetry.logger.warn(
        { sections: restartOnly },
        'listener settings changed; they apply after a restart',
      );
    }
  }

  /** Stops taking requests, lets those in flight (streams too) finish up to the drain timeout, then closes. */
  async shutdown(): Promise<{ drained: boolean }> {
    if (this.draining) return { drained: true };
    this.draining = true;
    const { logger, metrics } = this.telemetry;
    metrics.draining.set(1);
    logger.info({ in_flight: this.tracker.count }, 'shutting down: draining requests in flight');
    const server = this.server;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    server?.closeIdleConnections();
    const drained = await this.tracker.whenIdle(this.config.shutdown.drain_timeout_ms);
    if (!drained)
      logger.warn({ in_flight: this.tracker.count }, 'drain timeout reached; closing remaining connections');
    server?.closeAllConnections();
    await closed;
    await this.generation.retire();
    await this.admin?.close();
    await this.mocks.close();
    await this.cache.close();
    await this.traffic.close();
    this.groups.dispose();
    logger.info({ drained }, 'sluice stopped');
    await new Promise<void>((resolve) => this.telemetry.logger.flush(() => resolve()));
    return { drained };
  }
}

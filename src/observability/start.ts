import type { Admin } from 'kafkajs';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { Settings } from '../config/settings.ts';
import type { DeliveryEngine } from '../delivery/engine.ts';
import type { Clock, Sleep } from '../shared/time.ts';
import type { ObservableRateLimiter } from '../delivery/limiter-types.ts';
import { BridgeError } from '../errors.ts';
import type { Runtime } from '../kafka/runtime.ts';
import { version as bridgeVersion } from '../version.ts';
import { startObservabilityServer, type ObservabilityServer } from './http-server.ts';
import { startLagPoller, type LagAdmin } from './lag-poller.ts';
import { bindDeliveryLogs, bindLimiterLogs } from './log-bindings.ts';
import { startLoopWatchdog } from './loop-watchdog.ts';
import {
  bindDeliveryMetrics,
  bindLimiterMetrics,
  bindRuntimeMetrics,
  createMetrics,
  type BridgeMetrics,
} from './metrics.ts';
import { createReadiness, type Readiness } from './readiness.ts';
import { coordinatorStarting } from '../kafka/group-coordinator.ts';

/**
 * Everything observability needs, wired in one call from `gong-bridge run` (or a test that builds
 * the same components in process): metrics bound to the engine, limiter and runtime events on a
 * registry of its own, the delivery and limiter log lines, the lag poller, and the HTTP server.
 * It starts before the runtime, so /healthz answers while the group is still joining, and is
 * closed after the runtime has stopped, so the last commits are still scraped.
 */

export interface LagSource {
  /** An admin client of its own; connected lazily, so a broker outage never blocks start-up. */
  readonly admin: LagAdmin & Pick<Admin, 'connect' | 'disconnect'>;
  readonly groupId: string;
  readonly topics: readonly string[];
  /** LAG_POLL_INTERVAL_MS; default 15 s: lag moves slowly next to a 3 calls/s limit. */
  readonly intervalMs?: number;
}

export interface ObservabilityOptions {
  readonly config: Pick<Settings, 'HTTP_HOST' | 'HTTP_PORT'>;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly sleep: Sleep;
  readonly engine: Pick<DeliveryEngine, 'events' | 'isHalted' | 'suspension'>;
  readonly limiter: ObservableRateLimiter;
  readonly runtime?: Pick<Runtime, 'events' | 'readiness' | 'stats'>;
  readonly lag?: LagSource;
  /** Aborted when shutdown begins: /readyz turns 503 at once. */
  readonly signal?: AbortSignal;
  /** Default: a new Registry; never the global one. */
  readonly registry?: Registry;
  readonly version?: string;
  /** process_* and nodejs_* metrics; default true. */
  readonly defaultMetrics?: boolean;
}

export interface Observability {
  readonly registry: Registry;
  readonly metrics: BridgeMetrics;
  readonly readiness: Readiness;
  readonly server: ObservabilityServer;
  /** Polls lag now (tests, start-up); a no-op without a lag source. */
  pollLag(): Promise<void>;
  close(): Promise<void>;
}

export async function startObservability(options: ObservabilityOptions): Promise<Observability> {
  const { config, logger, clock, engine, limiter, runtime } = options;
  const log = logger.child({ component: 'observability' });
  const registry = options.registry ?? new Registry();
  const metrics = createMetrics(registry, {
    version: options.version ?? bridgeVersion,
    ...(options.defaultMetrics === undefined ? {} : { defaultMetrics: options.defaultMetrics }),
  });
  const readiness = createReadiness({
    authHalted: () => engine.isHalted(),
    limiter: () => limiter.snapshot(),
    ...(runtime === undefined
      ? {}
      : {
          consumerGroupJoined: () => runtime.readiness().joined,
          shuttingDown: () => runtime.readiness().shuttingDown,
          runtimeHalts: () => runtime.readiness().halts,
        }),
  });
  // The breaker's halt has its own alert: Gong answers, it is the events it refuses.
  metrics.sources.authFailed = () => engine.isHalted() && engine.suspension()?.reason !== 'rejections';
  metrics.sources.deliveryHalted = () => engine.suspension()?.reason;
  metrics.sources.ready = () => readiness.report().ready;
  if (runtime !== undefined) {
    metrics.sources.inFlight = () => runtime.stats().inFlight;
    metrics.sources.receiptsPending = () => runtime.stats().receiptsPending;
    // Partitions pause one by one (a full share of the buffer) as well as all together.
    metrics.sources.pausedPartitions = () => runtime.stats().pausedPartitions;
  }

  const unbind = [
    bindDeliveryMetrics(engine.events, metrics),
    bindLimiterMetrics(limiter, metrics),
    bindDeliveryLogs(engine.events, logger),
    bindLimiterLogs(limiter, logger),
    ...(runtime === undefined ? [] : [bindRuntimeMetrics(runtime.events, metrics, { clock })]),
  ];
  const onAbort = () => readiness.markShuttingDown();
  if (options.signal?.aborted === true) onAbort();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  const watchdog = startLoopWatchdog({ clock });
  let server: ObservabilityServer;
  try {
    server = await startObservabilityServer({
      host: config.HTTP_HOST,
      port: config.HTTP_PORT,
      registry,
      readiness,
      loopHealth: watchdog.check,
      onError: (error) => log.error({ event: 'metrics-failed', err: error }, 'collecting /metrics failed'),
    });
  } catch (cause) {
    watchdog.stop();
    for (const off of unbind) off();
    throw new BridgeError('CONFIG_INVALID', `cannot listen on ${config.HTTP_HOST}:${config.HTTP_PORT}`, {
      context: { variable: 'HTTP_PORT' },
      cause,
    });
  }
  log.info({ event: 'http-listening', url: server.url }, 'serving /metrics, /healthz and /readyz');

  const lag = options.lag === undefined ? undefined : startLag(options.lag, metrics, options.sleep, log);
  return {
    registry,
    metrics,
    readiness,
    server,
    pollLag: () => lag?.pollOnce() ?? Promise.resolve(),
    async close() {
      options.signal?.removeEventListener('abort', onAbort);
      readiness.markShuttingDown();
      await lag?.stop();
      await server.close();
      watchdog.stop();
      for (const off of unbind) off();
    },
  };
}

function startLag(source: LagSource, metrics: BridgeMetrics, sleep: Sleep, log: Logger) {
  let connected: Promise<void> | undefined;
  let failing = false;
  const connect = () => {
    connected ??= source.admin.connect().catch((error: unknown) => {
      connected = undefined;
      throw error;
    });
    return connected;
  };
  const admin: LagAdmin = {
    fetchOffsets: async (request) => {
      await connect();
      return source.admin.fetchOffsets(request);
    },
    fetchTopicOffsets: async (topic) => {
      await connect();
      return source.admin.fetchTopicOffsets(topic);
    },
  };
  const poller = startLagPoller({
    admin,
    groupId: source.groupId,
    topics: source.topics,
    metrics,
    intervalMs: source.intervalMs ?? 15_000,
    sleep,
    // One line when polling starts failing and one when it recovers, not one per interval.
    onError: (error) => {
      if (failing) return;
      failing = true;
      const starting = coordinatorStarting(error);
      if (starting !== undefined) {
        // Right after a broker starts there is no coordinator to ask yet: normal, not a warning.
        log.info(
          { event: 'lag-poll-waiting', kind: starting },
          'consumer lag poll waits for the group coordinator, which is still starting',
        );
        return;
      }
      log.warn(
        { event: 'lag-poll-failed', error: error instanceof Error ? error.message : String(error) },
        'consumer lag poll failed; the lag gauges keep their last values',
      );
    },
    onSuccess: () => {
      if (!failing) return;
      failing = false;
      log.info({ event: 'lag-poll-recovered' }, 'consumer lag polls work again');
    },
  });
  return {
    pollOnce: async () => {
      await poller.pollOnce();
    },
    async stop() {
      await poller.stop();
      if (connected !== undefined) await source.admin.disconnect().catch(() => {});
    },
  };
}

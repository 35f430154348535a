import type { Logger } from 'pino';

/** The part of `process` this needs, so tests pass their own emitter. */
export interface WarningSource {
  listeners(event: 'warning'): ((...args: unknown[]) => void)[];
  removeListener(event: 'warning', listener: (...args: unknown[]) => void): unknown;
  on(event: 'warning', listener: (warning: Error) => void): unknown;
}

/**
 * Warnings the bridge knows to be harmless, logged at debug instead of warn. kafkajs 2.2.4's
 * request queue armed a timer with a negative delay when nothing was queued (Node 24 warns once
 * and clamps it to 1 ms); src/kafka/request-queue-fix.ts now stops that, and this stays for any
 * other kafkajs timer that does the same (docs/schema-registry.md, "Known noise").
 */
const knownHarmless: ReadonlySet<string> = new Set(['TimeoutNegativeWarning']);

/**
 * Sends process warnings (deprecations, negative timers, MaxListeners) to the structured log
 * instead of Node's plain stderr lines, which log pipelines cannot parse and on-call cannot
 * filter. Replaces Node's own printer; returns a function that puts it back.
 */
export function routeProcessWarnings(source: WarningSource, logger: Logger): () => void {
  const previous = source.listeners('warning');
  for (const listener of previous) source.removeListener('warning', listener);
  const log = logger.child({ component: 'process' });
  const route = (warning: Error): void => {
    const fields = {
      event: 'process-warning',
      warning: {
        name: warning.name,
        message: warning.message,
        ...('code' in warning && typeof warning.code === 'string' ? { code: warning.code } : {}),
      },
    };
    if (knownHarmless.has(warning.name)) log.debug(fields, `known harmless ${warning.name}`);
    else log.warn(fields, `${warning.name}: ${warning.message}`);
  };
  source.on('warning', route);
  return () => {
    source.removeListener('warning', route as (...args: unknown[]) => void);
    for (const listener of previous) source.on('warning', listener);
  };
}

import type { Logger } from 'pino';
import type { DeliveryEvents } from '../delivery/events.ts';
import type { ObservableRateLimiter } from '../delivery/limiter-types.ts';
import type { HaltReason } from '../delivery/outcome-policy.ts';

/**
 * Log lines for the typed events. One line per significant event (a halt, a resume, a spent
 * quota, a crossed alert threshold) at info or above; per-record and per-call lines only at debug
 * and trace, so a busy bridge at the default level logs what an operator acts on and no more.
 * Log fields never carry bodies: a record is named by its eventId, never by its person.
 */

type Unsubscribe = () => void;

const haltMessages: Record<HaltReason, string> = {
  credentials: 'delivery halted: Gong refused the credentials; probing until it accepts them',
  'token-unavailable': 'delivery halted: the bearer token file cannot be read; probing until it can',
  endpoint: 'delivery halted: GONG_BASE_URL does not reach the endpoint; probing until it does',
  proxy:
    'delivery halted: a proxy on the way to Gong wants credentials (407); probing until it lets calls through',
  connection: 'delivery halted: a proxy or Gong refuses requests on the connection (425); probing',
  headers: 'delivery halted: our request headers are too large (431), most likely the token; probing',
  rejections:
    'delivery halted: Gong rejected many different events in a row with the same errors (GONG_REJECTION_BREAKER); ' +
    'nothing more is dead-lettered until a probe is accepted',
};

function all(unsubscribes: Unsubscribe[]): Unsubscribe {
  return () => {
    for (const unsubscribe of unsubscribes) unsubscribe();
  };
}

export function bindDeliveryLogs(events: Pick<DeliveryEvents, 'on'>, logger: Logger): Unsubscribe {
  const log = logger.child({ component: 'delivery' });
  return all([
    events.on('auth-failed', (event) =>
      log.error(
        {
          event: 'auth-failed',
          status: event.status,
          reason: event.reason,
          requestId: event.requestId,
          errors: event.errors,
        },
        haltMessages[event.reason],
      ),
    ),
    events.on('outage', (event) =>
      log.warn(
        { event: 'outage', status: event.status, code: event.code, failures: event.failures },
        'Gong unavailable: calls failed in a row; records wait and one probe at a time goes out',
      ),
    ),
    events.on('outage-probe', (event) =>
      log.debug(
        {
          event: 'outage-probe',
          status: event.status,
          code: event.code,
          probes: event.probes,
          nextProbeInMs: event.nextProbeInMs,
        },
        'outage probe failed',
      ),
    ),
    events.on('outage-ended', (event) =>
      log.info(
        {
          event: 'outage-ended',
          outageMs: Math.round(event.outageMs),
          probes: event.probes,
          status: event.status,
        },
        'Gong answers again: waiting records resume',
      ),
    ),
    events.on('auth-probe', (event) =>
      log.info(
        {
          event: 'auth-probe',
          status: event.status,
          code: event.code,
          probes: event.probes,
          nextProbeInMs: event.nextProbeInMs,
        },
        'auth probe answered',
      ),
    ),
    events.on('auth-recovered', (event) =>
      log.info(
        { event: 'auth-recovered', haltedMs: Math.round(event.haltedMs), probes: event.probes },
        'delivery resumed: a probe got through',
      ),
    ),
    events.on('throttled', (event) =>
      log.warn(
        { event: 'throttled', retryAfterMs: event.retryAfterMs, requestId: event.requestId },
        'Gong answered 429: the limiter is misconfigured or the account is shared; every call waits',
      ),
    ),
    events.on('retry-alert', (event) =>
      log.warn(
        {
          event: 'retry-alert',
          eventId: event.eventId,
          attempts: event.attempts,
          elapsedMs: Math.round(event.elapsedMs),
          lastReason: event.lastReason,
        },
        'alert threshold crossed: a record is still not delivered; retries continue',
      ),
    ),
    events.on('retry', (event) => {
      const fields = {
        event: 'retry',
        eventId: event.eventId,
        attempt: event.attempt,
        reason: event.reason,
        status: event.status,
        code: event.code,
        delayMs: event.delayMs,
      };
      // An answer outside the outcome table is a gap in our code, worth a line at any level.
      if (event.unexpected === true)
        log.warn({ ...fields, unexpected: true }, 'Gong answer outside the outcome table; retrying');
      else log.debug(fields, 'attempt failed; retrying');
    }),
    events.on('delivered', (event) =>
      log.debug(
        {
          event: 'delivered',
          eventId: event.eventId,
          status: event.status,
          attempts: event.attempts,
          requestId: event.requestId,
        },
        'delivered',
      ),
    ),
    events.on('duplicate', (event) =>
      log.debug(
        { event: 'duplicate', eventId: event.eventId, attempts: event.attempts, requestId: event.requestId },
        'already delivered (409)',
      ),
    ),
    events.on('rejected', (event) =>
      log.debug(
        {
          event: 'rejected',
          eventId: event.eventId,
          status: event.status,
          errors: event.errors,
          requestId: event.requestId,
          inferredRules: event.inferredRules,
        },
        'rejected by Gong',
      ),
    ),
    events.on('invalid', (event) =>
      log.debug(
        {
          event: 'invalid',
          eventId: event.eventId,
          errors: event.errors,
          inferredRules: event.inferredRules,
        },
        'body failed validation',
      ),
    ),
    events.on('flagged', (event) =>
      log.debug(
        {
          event: 'flagged',
          eventId: event.eventId,
          inferredRules: event.inferredRules,
          warnings: event.warnings,
        },
        'sending a body that breaks inferred rules (GONG_INFERRED_RULES=send)',
      ),
    ),
    events.on('call', (event) =>
      log.trace(
        {
          event: 'call',
          status: event.status,
          code: event.code,
          durationMs: Math.round(event.durationMs),
          probe: event.probe,
          requestId: event.requestId,
        },
        'Gong call',
      ),
    ),
  ]);
}

export interface LimiterLogOptions {
  /** Warn once when the remaining daily budget falls below this share; default 0.1. */
  readonly quotaWarnRatio?: number;
  /** At most one quota check per this many ms of grants; default 10 s. */
  readonly quotaCheckIntervalMs?: number;
}

export function bindLimiterLogs(
  limiter: Pick<ObservableRateLimiter, 'on' | 'snapshot'>,
  logger: Logger,
  options: LimiterLogOptions = {},
): Unsubscribe {
  const log = logger.child({ component: 'limiter' });
  const warnRatio = options.quotaWarnRatio ?? 0.1;
  const checkEveryMs = options.quotaCheckIntervalMs ?? 10_000;
  let lastCheck = Number.NEGATIVE_INFINITY;
  let below = false;
  return all([
    limiter.on('quota-exhausted', (event) =>
      log.warn(
        {
          event: 'quota-exhausted',
          dailyLimit: event.dailyLimit,
          until: new Date(event.until).toISOString(),
        },
        'daily Gong quota spent: calls wait until the window resets',
      ),
    ),
    // fallback and recovered are logged by the Redis limiter itself (createRateLimiter's logger).
    limiter.on('throttled', (event) =>
      log.debug(
        {
          event: 'limiter-paused',
          retryAfterMs: event.retryAfterMs,
          until: new Date(event.until).toISOString(),
        },
        'limiter paused after a 429',
      ),
    ),
    limiter.on('wait', (event) =>
      log.trace({ event: 'limiter-wait', waitMs: event.waitMs, reason: event.reason }, 'limiter wait'),
    ),
    limiter.on('acquired', (event) => {
      log.trace({ event: 'acquired', waitedMs: event.waitedMs }, 'limiter slot granted');
      // The threshold is checked on the grants' own monotonic time, so no timer runs when idle.
      if (event.grantedAt - lastCheck < checkEveryMs) return;
      lastCheck = event.grantedAt;
      const snapshot = limiter.snapshot();
      const ratio = snapshot.dailyLimit > 0 ? snapshot.dailyRemaining / snapshot.dailyLimit : 1;
      if (!below && ratio < warnRatio) {
        below = true;
        log.warn(
          {
            event: 'quota-low',
            dailyRemaining: snapshot.dailyRemaining,
            dailyLimit: snapshot.dailyLimit,
            projectedExhaustionAt:
              snapshot.projectedExhaustionAt === null
                ? null
                : new Date(snapshot.projectedExhaustionAt).toISOString(),
          },
          'alert threshold crossed: daily Gong quota nearly spent',
        );
      } else if (below && ratio >= warnRatio) {
        below = false;
        log.info(
          { event: 'quota-recovered', dailyRemaining: snapshot.dailyRemaining },
          'daily Gong quota replenished',
        );
      }
    }),
  ]);
}

import type { Settings } from '../config/settings.ts';

/**
 * How long to wait between attempts, as data plus pure functions (the shape of undici's retry
 * handler). Nothing here reads a clock or a random source: callers pass `now` and `random`, so
 * tests pin every number. There is deliberately no attempt limit: a record is never dropped for
 * being slow; past the alert thresholds it is reported instead.
 */
export interface RetryPolicy {
  /** First backoff step; attempt n waits up to base * 2^(n-1). */
  readonly baseMs: number;
  /** Cap of one backoff step, whatever the attempt count. */
  readonly maxMs: number;
  /** Report a stuck record after this many attempts... */
  readonly alertAttempts: number;
  /** ...or after it has been retried for this long, whichever comes first. */
  readonly alertAfterMs: number;
  /** Used when a 429 carries no usable Retry-After. */
  readonly retryAfterDefaultMs: number;
  /**
   * Upper bound on a Retry-After we obey. A buggy proxy answering "Retry-After: 86400" must not
   * stall the pipeline for a day; after the cap we try again and Gong re-throttles if it meant it.
   */
  readonly retryAfterCapMs: number;
  /** Socket and undici error codes that mean "the call may not have happened; try again". */
  readonly retriableErrorCodes: ReadonlySet<string>;
  /**
   * Transient failures in a row (across records, no answer in between) that make an outage: from
   * then on one probe at a time instead of every record spending its own calls. A lone 5xx or
   * reset among answers stays that record's own retry.
   */
  readonly outageAfterFailures: number;
  /** Cap of the wait between outage probes: Gong's recovery is noticed within this. */
  readonly outageProbeMaxMs: number;
}

export const retriableErrorCodes: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETDOWN',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EHOSTUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

export const defaultRetryPolicy: RetryPolicy = Object.freeze({
  baseMs: 500,
  maxMs: 60_000,
  alertAttempts: 10,
  alertAfterMs: 300_000,
  retryAfterDefaultMs: 1_000,
  retryAfterCapMs: 300_000,
  retriableErrorCodes,
  outageAfterFailures: 3,
  outageProbeMaxMs: 5_000,
});

export function retryPolicyFromConfig(
  config: Pick<
    Settings,
    | 'GONG_RETRY_BASE_MS'
    | 'GONG_RETRY_MAX_MS'
    | 'GONG_RETRY_ALERT_ATTEMPTS'
    | 'GONG_RETRY_ALERT_AFTER_MS'
    | 'GONG_OUTAGE_PROBE_MAX_MS'
  >,
): RetryPolicy {
  return Object.freeze({
    ...defaultRetryPolicy,
    baseMs: config.GONG_RETRY_BASE_MS,
    maxMs: Math.max(config.GONG_RETRY_MAX_MS, config.GONG_RETRY_BASE_MS),
    alertAttempts: config.GONG_RETRY_ALERT_ATTEMPTS,
    alertAfterMs: config.GONG_RETRY_ALERT_AFTER_MS,
    outageProbeMaxMs: Math.max(config.GONG_OUTAGE_PROBE_MAX_MS, config.GONG_RETRY_BASE_MS),
  });
}

/**
 * Capped exponential backoff with full jitter: a uniform delay in [0, min(max, base * 2^(n-1))].
 * Full jitter spreads the retries of many records that failed together (one Gong blip fails
 * every in-flight call), so they do not come back as a synchronized burst.
 *
 * @param failures consecutive transient failures of this record, starting at 1
 * @param random uniform in [0, 1)
 */
export function backoffDelay(policy: RetryPolicy, failures: number, random: () => number): number {
  const exponent = Math.max(0, Math.min(failures - 1, 52));
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
  const r = random();
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
  return Math.floor(unit * ceiling);
}

/**
 * The wait before outage probe n + 1 after `failedProbes` probes that failed: doubling from the
 * base up to `outageProbeMaxMs`, with equal jitter (half fixed, half random) so replicas probing
 * the same outage drift apart, while no probe ever follows the last one at once.
 */
export function outageProbeDelay(policy: RetryPolicy, failedProbes: number, random: () => number): number {
  const exponent = Math.max(0, Math.min(failedProbes, 52));
  const ceiling = Math.min(policy.outageProbeMaxMs, policy.baseMs * 2 ** exponent);
  const r = random();
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
  return Math.floor(ceiling / 2 + (unit * ceiling) / 2);
}

/**
 * Parses a Retry-After header: delta-seconds (Gong sends these) or an HTTP-date (RFC 9110).
 * Returns milliseconds from now, or undefined when absent or unreadable. Not capped here; see
 * `throttleDelay`.
 */
export function parseRetryAfter(
  value: string | readonly string[] | undefined,
  wallNowMs: number,
): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (typeof raw !== 'string') return undefined;
  const text = raw.trim();
  if (text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  // Anything else must look like a date; Date.parse accepts odd strings such as "1", so the
  // numeric case above comes first and negative numbers are refused.
  if (/^-/.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - wallNowMs);
}

/** How long every caller waits after a 429: the server's Retry-After, bounded to a sane range. */
export function throttleDelay(policy: RetryPolicy, retryAfterMs: number | undefined): number {
  if (retryAfterMs === undefined || !Number.isFinite(retryAfterMs)) return policy.retryAfterDefaultMs;
  return Math.min(Math.max(retryAfterMs, 0), policy.retryAfterCapMs);
}

/** Whether a record that has been retried `attempts` times over `elapsedMs` deserves an alert. */
export function isRetryAlertDue(policy: RetryPolicy, attempts: number, elapsedMs: number): boolean {
  return attempts >= policy.alertAttempts || elapsedMs >= policy.alertAfterMs;
}

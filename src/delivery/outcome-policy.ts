import { retriableErrorCodes } from './retry-policy.ts';

/**
 * What each Gong answer means for a record, as one table. A change to how a status is treated
 * is a change to one row here, and the unit test walks the same table.
 *
 *  - delivered / duplicate: done; a 409 means Gong already has the event (for example a reply we
 *    never received), which is exactly as good as a 2xx.
 *  - rejected: the body itself is wrong; retrying cannot help. Dead-letter it with Gong's
 *    errors[] and requestId.
 *  - halt: nothing about this record is wrong, but no record can succeed (credentials refused,
 *    or the base URL points somewhere that is not the endpoint). Dead-lettering would empty the
 *    stream into the DLQ, so every caller stops until a probe succeeds.
 *  - throttled: 429; every caller waits for Retry-After.
 *  - transient: retry this record with backoff.
 */
export type OutcomeClass = 'delivered' | 'duplicate' | 'rejected' | 'halt' | 'throttled' | 'transient';
/**
 * Why delivery halts. Every reason but `rejections` comes from one row of the table below (or the
 * token file); `rejections` is the rejection breaker's (rejection-breaker.ts).
 */
export type HaltReason =
  'credentials' | 'endpoint' | 'token-unavailable' | 'proxy' | 'connection' | 'headers' | 'rejections';

export const haltReasons: readonly HaltReason[] = [
  'credentials',
  'endpoint',
  'token-unavailable',
  'proxy',
  'connection',
  'headers',
  'rejections',
];

export interface StatusRule {
  /** Inclusive range of HTTP statuses the row covers. */
  readonly from: number;
  readonly to: number;
  readonly outcome: OutcomeClass;
  readonly haltReason?: HaltReason;
  readonly why: string;
}

/** First matching row wins, so specific statuses come before the ranges that contain them. */
export const statusRules: readonly StatusRule[] = [
  { from: 200, to: 299, outcome: 'delivered', why: 'Gong accepted the event.' },
  { from: 409, to: 409, outcome: 'duplicate', why: 'Gong already has this eventId; counts as delivered.' },
  { from: 400, to: 400, outcome: 'rejected', why: 'Malformed body; Gong will never accept it.' },
  { from: 413, to: 413, outcome: 'rejected', why: 'Body too large for Gong.' },
  { from: 422, to: 422, outcome: 'rejected', why: 'Body well-formed but semantically refused.' },
  {
    from: 401,
    to: 401,
    outcome: 'halt',
    haltReason: 'credentials',
    why: 'Credentials refused; no record can succeed until they work.',
  },
  {
    from: 403,
    to: 403,
    outcome: 'halt',
    haltReason: 'credentials',
    why: 'Scope api:digital-interactions:write missing; no record can succeed.',
  },
  { from: 429, to: 429, outcome: 'throttled', why: 'Rate limit; every caller waits for Retry-After.' },
  { from: 408, to: 408, outcome: 'transient', why: 'Request timeout; the call can be repeated.' },
  // 404/405 and redirects mean GONG_BASE_URL is wrong (missing tenant, extra path, http vs https).
  // That is a configuration fault shared by every record, so halt and probe rather than
  // dead-letter the whole stream.
  {
    from: 404,
    to: 405,
    outcome: 'halt',
    haltReason: 'endpoint',
    why: 'Endpoint not found; GONG_BASE_URL is wrong.',
  },
  {
    from: 300,
    to: 399,
    outcome: 'halt',
    haltReason: 'endpoint',
    why: 'Redirect; GONG_BASE_URL is not the API origin.',
  },
  // These four describe the way to Gong (a proxy, the connection, our own headers), which every
  // record shares. Treated as a rejection they would dead-letter the whole stream at full speed.
  {
    from: 407,
    to: 407,
    outcome: 'halt',
    haltReason: 'proxy',
    why: 'A proxy between us and Gong wants its own credentials; no record gets through.',
  },
  {
    from: 421,
    to: 421,
    outcome: 'halt',
    haltReason: 'endpoint',
    why: 'Misdirected request: the connection reached a server that does not serve this origin.',
  },
  {
    from: 425,
    to: 425,
    outcome: 'halt',
    haltReason: 'connection',
    why: 'Too early: a proxy refuses requests on this connection; not about the body.',
  },
  {
    from: 431,
    to: 431,
    outcome: 'halt',
    haltReason: 'headers',
    why: 'Request headers too large: ours are the same on every call (the token), so none passes.',
  },
  // Remaining 4xx (411, 414, 415, ...) describe this request, not the service: another attempt
  // with the same body gets the same answer, so they are rejected like a 400.
  { from: 400, to: 499, outcome: 'rejected', why: 'Other client error about this request.' },
  { from: 500, to: 599, outcome: 'transient', why: 'Gong-side failure; retry with backoff.' },
];

/** Statuses we retry (throttled or transient), derived from the table for docs and metrics. */
export const retriableStatuses: readonly number[] = listStatuses(['transient', 'throttled']);

export interface Classification {
  readonly outcome: OutcomeClass;
  readonly haltReason?: HaltReason;
  /** True when no row matched: logged loudly, because the table should cover every answer. */
  readonly unknown?: boolean;
}

export function classifyStatus(status: number): Classification {
  for (const rule of statusRules) {
    if (status >= rule.from && status <= rule.to) {
      return rule.haltReason === undefined
        ? { outcome: rule.outcome }
        : { outcome: rule.outcome, haltReason: rule.haltReason };
    }
  }
  // 1xx never surfaces from undici and 6xx does not exist; retrying is the answer that loses
  // nothing, and the retry alert fires if it never settles.
  return { outcome: 'transient', unknown: true };
}

/** Transport codes raised by our own client before any call was made. */
export const tokenUnavailableCode = 'GONG_TOKEN_UNAVAILABLE';

/**
 * A call that produced no HTTP answer. The connection failed, timed out or was reset, so the
 * call may or may not have reached Gong; retrying is safe because Gong deduplicates by eventId
 * (a lost reply comes back as 409).
 */
export function classifyTransport(code: string): Classification {
  if (code === tokenUnavailableCode) return { outcome: 'halt', haltReason: 'token-unavailable' };
  if (retriableErrorCodes.has(code)) return { outcome: 'transient' };
  return { outcome: 'transient', unknown: true };
}

function listStatuses(outcomes: readonly OutcomeClass[]): number[] {
  const out: number[] = [];
  for (let status = 100; status <= 599; status += 1) {
    if (outcomes.includes(classifyStatus(status).outcome) && classifyStatus(status).unknown !== true) {
      out.push(status);
    }
  }
  return out;
}

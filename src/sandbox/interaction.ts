import type { WriteStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GongBodyValidator } from '../gong/validate.ts';
import type { Clock, Sleep } from '../shared/time.ts';
import { checkAuthorization, type SandboxCredentials } from './auth.ts';
import type { CallOutcome } from './call-log.ts';
import { drawFaults, type FaultDraw } from './faults.ts';
import { parseJson, send } from './http.ts';
import type { Random } from '../shared/random.ts';
import { readBody } from './read-body.ts';
import type { SandboxLimits, SandboxState } from './state.ts';

/**
 * One call to `POST /v2/digital-interaction`, from arrival to the logged reply. Checks run in
 * this order, each for a reason:
 *   1. 503 outage          an outage is the gateway being down: nothing else is looked at.
 *   2. 401 credentials     an unauthenticated call belongs to no account, so it uses no quota and
 *                          learns nothing about limits or bodies.
 *   3. 413 Content-Length  a body declared too large can never succeed; saying so before 429
 *                          spares a client from waiting out a throttle only to be refused.
 *   4. 429 rate / daily    every authenticated call that gets past here uses budget (is "counted"),
 *                          whatever its answer afterwards: 400s, 409s and failures cost a real quota
 *                          too. Calls answered 429 are not counted, or a client that retries
 *                          promptly would extend its own throttle for ever.
 *   5. 413 streamed bytes  a chunked body has no Content-Length; its size is only known by reading.
 *   6. injected 5xx        --fail-rate: the server failed before storing anything; a retry may pass.
 *   7. 400 malformed       wrong Content-Type, invalid UTF-8 or JSON, or a body that breaks a
 *                          rule the contract states (the bridge's validator, documented tier
 *                          only: no limits of the bridge's, and the inferred rules pass, since
 *                          nothing says Gong refuses them). With `strict`, the inferred rules are
 *                          refused too, like a Gong that enforced all of them would.
 *   8. 409 duplicate       only a valid body has an eventId worth deduplicating.
 *   9. 500 lost reply      --lost-reply-rate: the event is stored, then the answer fails, so a
 *                          correct client retries and gets 409, which it must treat as delivered.
 *  10. 200 {requestId}
 * Latency (--latency-ms) delays every reply of the API endpoint but not admission, so the rate
 * limit judges calls by when the client sent them.
 */

export interface InteractionContext {
  readonly state: SandboxState;
  readonly limits: SandboxLimits;
  readonly credentials: SandboxCredentials;
  readonly validate: GongBodyValidator;
  readonly clock: Clock;
  readonly sleep: Sleep;
  readonly random: Random;
  readonly requestId: () => string;
  /** Every accepted body is appended here (--record). */
  readonly recorder: WriteStream | undefined;
  /** Aborted when the sandbox closes: replies held back by latency are dropped. */
  readonly closing: AbortSignal;
}

export async function handleInteraction(
  ctx: InteractionContext,
  req: IncomingMessage,
  res: ServerResponse,
  expectsContinue: boolean,
): Promise<void> {
  const { state, limits, clock } = ctx;
  const { faults, callLog, quota, events } = state;
  const { maxBodyBytes } = limits;
  const t = clock.now();
  const id = ctx.requestId();
  const draw: FaultDraw = drawFaults(faults, ctx.random);
  let counted = false;
  let eventId: string | null = null;
  let continued = false;

  const answer = async (
    status: number,
    outcome: CallOutcome,
    errors?: readonly string[],
    headers: Record<string, string> = {},
  ) => {
    callLog.add({ at: clock.wallNow(), t, status, outcome, counted, eventId, requestId: id });
    if (draw.latencyMs > 0) {
      try {
        await ctx.sleep(draw.latencyMs, ctx.closing);
      } catch {
        res.destroy();
        return;
      }
    }
    // Refused before 100 Continue, the client may never send its body; the connection is then
    // out of step and must not be reused.
    const closeAfter = expectsContinue && !continued ? { Connection: 'close' } : {};
    const body = errors === undefined ? { requestId: id } : { requestId: id, errors };
    send(res, status, body, { ...headers, ...closeAfter });
  };

  if (state.outageUntil > t) {
    const headers: Record<string, string> = faults.outageRetryAfter
      ? { 'Retry-After': String(Math.ceil((state.outageUntil - t) / 1000)) }
      : {};
    return answer(faults.outageStatus, 'outage', ['Service temporarily unavailable'], headers);
  }

  const auth = checkAuthorization(req.headers.authorization, ctx.credentials);
  if (!auth.ok) {
    const hasBasic = ctx.credentials.accessKey !== undefined && ctx.credentials.accessKeySecret !== undefined;
    const challenge = hasBasic ? 'Basic realm="gong"' : 'Bearer realm="gong"';
    return answer(401, 'unauthorized', [auth.error], { 'WWW-Authenticate': challenge });
  }
  callLog.noteAuthenticated(t);

  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBodyBytes) {
    return answer(413, 'too-large', [
      `Request body of ${declared} bytes exceeds the ${maxBodyBytes}-byte limit`,
    ]);
  }

  const admission = quota.tryAdmit(t);
  if (!admission.admitted) {
    const message =
      admission.reason === 'rate'
        ? `API request limit exceeded: more than ${limits.rps} calls per second`
        : `API request limit exceeded: more than ${limits.daily} calls per day`;
    return answer(429, admission.reason === 'rate' ? 'throttled-rate' : 'throttled-daily', [message], {
      'Retry-After': String(Math.max(1, Math.ceil(admission.retryAfterMs / 1000))),
    });
  }
  counted = true;

  if (expectsContinue) {
    res.writeContinue();
    continued = true;
  }
  const read = await readBody(req, maxBodyBytes, Math.max(4 * maxBodyBytes, 16 * 1024 * 1024));
  callLog.noteBytes(read.ok ? read.bytes.length : read.received);
  if (!read.ok) {
    return answer(413, 'too-large', [`Request body exceeds the ${maxBodyBytes}-byte limit`]);
  }

  if (draw.failStatus !== null) {
    return answer(draw.failStatus, 'injected-failure', [
      'Failed to complete the operation due to an unexpected error',
    ]);
  }

  const typeError = jsonContentTypeError(req.headers['content-type']);
  if (typeError !== null) return answer(400, 'invalid', [typeError]);
  const parsed = parseJson(read.bytes);
  if (!parsed.ok) return answer(400, 'invalid', [parsed.error]);
  const validation = ctx.validate(parsed.value);
  if (!validation.ok) return answer(400, 'invalid', validation.errors);
  eventId = validation.body.eventId;

  if (events.has(eventId)) {
    events.noteConflict(eventId);
    return answer(409, 'duplicate', [`Event ${eventId} was already reported`]);
  }

  // Stored compactly: a body pretty-printed by a client would waste the kept window and break JSONL.
  const compact = JSON.stringify(parsed.value);
  events.add(eventId, clock.wallNow(), compact);
  ctx.recorder?.write(`${compact}\n`);

  if (draw.lostReply) {
    return answer(500, 'lost-reply', ['Failed to complete the operation due to an unexpected error']);
  }
  return answer(200, 'accepted');
}

/** Gong takes JSON only; a client that forgets the header should find out here, not in production. */
function jsonContentTypeError(contentType: string | undefined): string | null {
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  return mediaType === 'application/json'
    ? null
    : `Content-Type must be application/json, got ${contentType ?? 'none'}`;
}

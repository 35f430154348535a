import { z } from 'zod';
import type { Random } from '../shared/random.ts';

/** The failures a sandbox injects; every field can be changed at run time via /_sandbox/faults. */
export interface FaultSettings {
  /** Probability that an admitted, valid call fails with one of `failStatuses` before anything is stored. */
  readonly failRate: number;
  readonly failStatuses: readonly number[];
  /** Added before each reply is written (not before admission, so the rate log sees send times). */
  readonly latencyMs: number;
  /** Extra latency drawn uniformly from [0, latencyJitterMs). */
  readonly latencyJitterMs: number;
  /** Probability that a new event is stored and then answered with 500, as if the reply was lost. */
  readonly lostReplyRate: number;
  /** Status answered to every call during an outage. */
  readonly outageStatus: number;
  /** Whether outage answers carry Retry-After (seconds left in the outage); off like most gateways. */
  readonly outageRetryAfter: boolean;
}

export const defaultFaults: FaultSettings = Object.freeze({
  failRate: 0,
  failStatuses: Object.freeze([500, 502, 503, 504]),
  latencyMs: 0,
  latencyJitterMs: 0,
  lostReplyRate: 0,
  outageStatus: 503,
  outageRetryAfter: false,
});

const probability = z.number().min(0).max(1);
const millis = z.number().int().min(0).max(86_400_000);
const serverStatus = z.number().int().min(500).max(599);

/** Body of POST /_sandbox/faults: any subset of the settings, plus `outageMs` to start an outage now. */
export const faultPatchSchema = z.strictObject({
  failRate: probability.optional(),
  failStatuses: z.array(serverStatus).min(1).optional(),
  latencyMs: millis.optional(),
  latencyJitterMs: millis.optional(),
  lostReplyRate: probability.optional(),
  outageStatus: serverStatus.optional(),
  outageRetryAfter: z.boolean().optional(),
  /** Starts (or, with 0, ends) an outage lasting this long from now. */
  outageMs: millis.optional(),
});

export type FaultPatch = z.infer<typeof faultPatchSchema>;

export function applyFaultPatch(current: FaultSettings, patch: FaultPatch): FaultSettings {
  const next: Record<string, unknown> = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (key !== 'outageMs' && value !== undefined) next[key] = value;
  }
  return Object.freeze(next as unknown as FaultSettings);
}

/**
 * Four draws happen in a fixed order for every call to the API endpoint, whether or not a fault is
 * configured, so a seeded run replays the same faults for the same call sequence even after
 * settings change.
 */
export interface FaultDraw {
  readonly failStatus: number | null;
  readonly lostReply: boolean;
  readonly latencyMs: number;
}

export function drawFaults(settings: FaultSettings, random: Random): FaultDraw {
  const fail = random();
  const pick = random();
  const lost = random();
  const jitter = random();
  const failStatus =
    fail < settings.failRate
      ? (settings.failStatuses[Math.floor(pick * settings.failStatuses.length)] ?? 500)
      : null;
  return {
    failStatus,
    lostReply: lost < settings.lostReplyRate,
    latencyMs: settings.latencyMs + Math.floor(jitter * settings.latencyJitterMs),
  };
}

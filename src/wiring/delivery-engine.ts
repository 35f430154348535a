import type { Settings } from '../config/settings.ts';
import type { DeliveryEngineOptions } from '../delivery/engine.ts';
import { defaultRetryPolicy, type RetryPolicy } from '../delivery/retry-policy.ts';
import {
  createGongBodyValidator,
  gongValidatorOptions,
  type GongValidationSettings,
} from '../gong/validate.ts';

/**
 * The delivery engine's options and its retry policy, from the settings: the commands that
 * deliver (run, send, replay-dlq) build them here once, and the engine and the policy never see
 * a setting.
 */

/** The engine options that come from settings; the caller adds client, limiter, clock and sleep. */
export function deliveryEngineSettings(
  config: Pick<
    Settings,
    | 'GONG_MAX_BODY_BYTES'
    | 'GONG_RETRY_BASE_MS'
    | 'GONG_RETRY_MAX_MS'
    | 'GONG_RETRY_ALERT_ATTEMPTS'
    | 'GONG_RETRY_ALERT_AFTER_MS'
    | 'GONG_AUTH_PROBE_INTERVAL_MS'
    | 'GONG_AUTH_PROBE_MAX_MS'
    | 'GONG_OUTAGE_PROBE_MAX_MS'
    | 'GONG_REJECTION_BREAKER'
  > &
    GongValidationSettings,
): Pick<
  DeliveryEngineOptions,
  | 'retry'
  | 'maxBodyBytes'
  | 'authProbeIntervalMs'
  | 'authProbeMaxIntervalMs'
  | 'rejectionBreaker'
  | 'validate'
> {
  return {
    retry: retryPolicyFromConfig(config),
    maxBodyBytes: config.GONG_MAX_BODY_BYTES,
    validate: createGongBodyValidator(gongValidatorOptions(config)),
    authProbeIntervalMs: config.GONG_AUTH_PROBE_INTERVAL_MS,
    authProbeMaxIntervalMs: config.GONG_AUTH_PROBE_MAX_MS,
    rejectionBreaker: config.GONG_REJECTION_BREAKER,
  };
}

/** The retry policy's numbers from the settings; the rest of the policy is its defaults. */
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

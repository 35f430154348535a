import { describe, expect, it } from 'vitest';
import { retryPolicyFromConfig } from '../../src/wiring/delivery-engine.ts';

describe('retry policy', () => {
  it('reads its numbers from the configuration', () => {
    const p = retryPolicyFromConfig({
      GONG_RETRY_BASE_MS: 50,
      GONG_RETRY_MAX_MS: 20,
      GONG_RETRY_ALERT_ATTEMPTS: 3,
      GONG_RETRY_ALERT_AFTER_MS: 1_000,
      GONG_OUTAGE_PROBE_MAX_MS: 5_000,
    });
    expect(p).toMatchObject({
      baseMs: 50,
      maxMs: 50,
      alertAttempts: 3,
      alertAfterMs: 1_000,
      outageProbeMaxMs: 5_000,
    });
  });
});

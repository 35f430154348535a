import type { Settings } from '../config/settings.ts';
import { accountKey, QuotaLedger, type QuotaLedgerOptions } from '../kafka/quota-ledger.ts';

/**
 * The ledger, when the limiter keeps the day in this process (no REDIS_URL, limiter on): without
 * it every restart would start a fresh daily budget. Redis keeps its own count.
 */
export function ledgerFromConfig(
  config: Pick<
    Settings,
    | 'REDIS_URL'
    | 'GONG_LIMITER_DISABLED'
    | 'KAFKA_QUOTA_TOPIC'
    | 'GONG_BASE_URL'
    | 'GONG_ACCESS_KEY'
    | 'GONG_DAILY_LEDGER_INTERVAL_MS'
  >,
  deps: Pick<QuotaLedgerOptions, 'kafka' | 'producer' | 'clock' | 'sleep' | 'logger'>,
): QuotaLedger | undefined {
  if (config.REDIS_URL !== undefined || config.GONG_LIMITER_DISABLED) return undefined;
  return new QuotaLedger({
    ...deps,
    topic: config.KAFKA_QUOTA_TOPIC,
    account: accountKey(config.GONG_BASE_URL, config.GONG_ACCESS_KEY),
    intervalMs: config.GONG_DAILY_LEDGER_INTERVAL_MS,
  });
}

/**
 * Parses a Retry-After header: delta-seconds (Gong sends these) or an HTTP-date (RFC 9110).
 * Returns milliseconds from now, or undefined when absent or unreadable. Not capped here: the
 * client reports what Gong said, and the retry policy (`throttleDelay` in
 * src/delivery/retry-policy.ts) bounds it.
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

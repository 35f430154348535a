/**
 * The most moments inside any half-open window [t, t + windowMs): what a strict server's sliding
 * log counts. Takes the moments in any order.
 */
export function maxInWindow(moments: readonly number[], windowMs = 1000): number {
  const sorted = [...moments].sort((a, b) => a - b);
  let max = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi += 1) {
    while (sorted[hi]! - sorted[lo]! >= windowMs) lo += 1;
    max = Math.max(max, hi - lo + 1);
  }
  return max;
}

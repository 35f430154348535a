import type { StatusReport } from './summary.ts';

/** One screen of `gong-bridge status`, for a terminal or a log. `now` is wall-clock ms. */
export function renderStatus(report: StatusReport, now: number): string {
  const lines: string[] = [];
  const given = report.replicas.length;
  lines.push(
    `gong-bridge status at ${report.at.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}: ` +
      `${report.replicasSeen} of ${given} replica${given === 1 ? '' : 's'} answered`,
  );
  lines.push('');
  lines.push(`Calls         ${callsLine(report)}`);
  lines.push(`Daily quota   ${quotaLine(report, now)}`);
  lines.push(`Lag           ${lagLine(report)}`);
  for (const entry of report.lag.partitions)
    lines.push(`  ${`${entry.topic}/${entry.partition}`.padEnd(30)} ${count(entry.records)}`);
  lines.push(`Dead letters  ${report.deadLetters.length === 0 ? 'none' : ''}`.trimEnd());
  for (const entry of report.deadLetters) {
    const rate =
      entry.perMinute === null || entry.perMinute === 0 ? '' : `  (${number(entry.perMinute)}/min now)`;
    lines.push(`  ${entry.reason.padEnd(30)} ${count(entry.total)}${rate}`);
  }
  lines.push(`Halts         ${report.halts.length === 0 ? 'none' : ''}`.trimEnd());
  for (const halt of report.halts) lines.push(`  ${halt.cause}  [${halt.replica}]`);
  lines.push('Replicas');
  for (const replica of report.replicas) {
    if (!replica.up) {
      lines.push(`  ${replica.url}  DOWN  ${replica.error ?? ''}`.trimEnd());
      continue;
    }
    const parts = [
      replica.version === null ? undefined : `v${replica.version}`,
      replica.ready === null ? undefined : replica.ready ? 'ready' : 'NOT READY',
      replica.inFlight === null ? undefined : `${replica.inFlight} in flight`,
      replica.pausedPartitions === null || replica.pausedPartitions === 0
        ? undefined
        : `${replica.pausedPartitions} partition(s) paused`,
      replica.callsPerSecond === null ? undefined : `${number(replica.callsPerSecond)} calls/s`,
      replica.limiterMode === null ? undefined : `limiter ${replica.limiterMode}`,
      replica.startedAt === null ? undefined : `up ${duration(now - Date.parse(replica.startedAt))}`,
    ].filter((part) => part !== undefined);
    lines.push(`  ${replica.url}  up  ${parts.join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}

function callsLine(report: StatusReport): string {
  const { perSecond, allowedPerSecond } = report.calls;
  const used = perSecond === null ? 'measuring…' : `${number(perSecond)}/s`;
  if (allowedPerSecond === null) return `${used} (allowed: unknown)`;
  if (!Number.isFinite(allowedPerSecond)) return `${used} (limiter disabled)`;
  const share =
    perSecond === null || allowedPerSecond === 0
      ? ''
      : ` (${Math.round((perSecond / allowedPerSecond) * 100)}%)`;
  return `${used} of ${number(allowedPerSecond)}/s allowed${share}`;
}

function quotaLine(report: StatusReport, now: number): string {
  const { remaining, limit, exhaustsAt, shared } = report.quota;
  if (remaining === null || limit === null) return 'n/a';
  const scope = shared === true ? 'account-wide, shared through Redis' : 'sum of the replicas’ shares';
  const runsOut =
    exhaustsAt === null
      ? 'not running out at the current rate'
      : `runs out ${duration(Date.parse(exhaustsAt) - now, 'in ')} (${exhaustsAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z')})`;
  return `${count(remaining)} of ${count(limit)} left (${scope}); ${runsOut}`;
}

function lagLine(report: StatusReport): string {
  const total = report.lag.total === null ? 'n/a' : `${count(report.lag.total)} records`;
  const age = report.lag.oldestUnsettledSeconds;
  const oldest = age === null ? 'n/a' : age === 0 ? 'none unsettled' : `${duration(age * 1000)} old`;
  return `${total}; oldest unsettled record: ${oldest}`;
}

function count(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

function number(value: number): string {
  return value >= 100 ? String(Math.round(value)) : String(Math.round(value * 100) / 100);
}

function duration(ms: number, prefix = ''): string {
  if (!Number.isFinite(ms)) return 'never';
  if (ms <= 0) return 'now';
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${prefix}${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${prefix}${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${prefix}${hours} h ${minutes % 60} min`;
  return `${prefix}${Math.floor(hours / 24)} d`;
}

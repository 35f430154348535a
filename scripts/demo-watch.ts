// Live progress for `make demo`: reads the bridge's /metrics and the Gong sandbox's stats every
// couple of seconds and prints one line, until every produced event is settled (delivered,
// duplicate or dead-lettered) or the time limit passes. Exits 0 when settled, 1 on timeout.
import { parseArgs } from 'node:util';
import { fetchText, sandboxStats, sumMetric } from './demo-metrics.ts';

const { values } = parseArgs({
  options: {
    metrics: { type: 'string', default: 'http://127.0.0.1:9464/metrics' },
    sandbox: { type: 'string', default: 'http://127.0.0.1:8089' },
    expect: { type: 'string', default: '0' },
    'timeout-s': { type: 'string', default: '600' },
    'interval-ms': { type: 'string', default: '2000' },
    pid: { type: 'string' },
  },
});
const expected = Number(values.expect);
const deadline = Date.now() + Number(values['timeout-s']) * 1000;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const started = Date.now();
for (;;) {
  const metrics = (await fetchText(values.metrics)) ?? '';
  const stats = await sandboxStats(values.sandbox);
  const consumed = sumMetric(metrics, 'gong_bridge_events_consumed_total');
  const delivered = sumMetric(metrics, 'gong_bridge_deliveries_total', 'outcome="delivered"');
  const duplicates = sumMetric(metrics, 'gong_bridge_deliveries_total', 'outcome="duplicate"');
  const deadLettered = sumMetric(metrics, 'gong_bridge_dead_lettered_total');
  const retries = sumMetric(metrics, 'gong_bridge_retries_total');
  const elapsed = Math.round((Date.now() - started) / 1000);
  console.log(
    `  ${String(elapsed).padStart(4)}s  consumed ${consumed}/${expected}  delivered ${delivered}` +
      `  duplicates ${duplicates}  dead-lettered ${deadLettered}  retries ${retries}` +
      `  | Gong sandbox accepted ${stats.accepted}, 429s ${stats.byStatus['429'] ?? 0}`,
  );
  if (expected > 0 && delivered + duplicates + deadLettered >= expected) process.exit(0);
  if (values.pid !== undefined && !isAlive(Number(values.pid))) {
    console.log('  the bridge exited before every event settled');
    process.exit(1);
  }
  if (Date.now() > deadline) {
    console.log('  not every event settled before the time limit; see the bridge log');
    process.exit(1);
  }
  await new Promise((resolve) => setTimeout(resolve, Number(values['interval-ms'])));
}

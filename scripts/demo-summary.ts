// The closing summary of `make demo`: what the Gong sandbox received and answered, and what the
// bridge did with every event, from its own /metrics.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fetchText, labelValues, sandboxStats, sumMetric } from './demo-metrics.ts';

const { values } = parseArgs({
  options: {
    metrics: { type: 'string', default: 'http://127.0.0.1:9464/metrics' },
    sandbox: { type: 'string', default: 'http://127.0.0.1:8089' },
    topic: { type: 'string', default: '' },
    record: { type: 'string', default: '' },
  },
});

const metrics = (await fetchText(values.metrics)) ?? '';
const stats = await sandboxStats(values.sandbox);
const statuses = Object.entries(stats.byStatus)
  .map(([status, count]) => `${status}×${count}`)
  .join(', ');
// Every reason is exported at 0 from the start; only the ones that happened are worth a mention.
const reasons = [...labelValues(metrics, 'gong_bridge_dead_lettered_total', 'reason')]
  .filter(([, count]) => count > 0)
  .map(([reason, count]) => `${reason}×${count}`)
  .join(', ');

console.log(
  `  consumed:        ${sumMetric(metrics, 'gong_bridge_events_consumed_total')} events from ${values.topic}`,
);
console.log(
  `  delivered:       ${sumMetric(metrics, 'gong_bridge_deliveries_total', 'outcome="delivered"')}`,
);
console.log(
  `  duplicates(409): ${sumMetric(metrics, 'gong_bridge_deliveries_total', 'outcome="duplicate"')}`,
);
console.log(
  `  dead-lettered:   ${sumMetric(metrics, 'gong_bridge_dead_lettered_total')} to ${values.topic}.dlq${reasons ? ` (${reasons})` : ''}`,
);
console.log(`  Gong sandbox:    accepted ${stats.accepted}; answers ${statuses || 'none'}`);
console.log(`                   at most ${stats.peakCallsPerRollingSecond} calls in any rolling second`);
if (values.record !== '') {
  try {
    const first = readFileSync(values.record, 'utf8')
      .split('\n')
      .find((line) => line.trim() !== '');
    if (first)
      console.log(`  one body Gong received:\n    ${first.slice(0, 400)}${first.length > 400 ? '…' : ''}`);
  } catch {
    // No record file yet: nothing was accepted.
  }
}

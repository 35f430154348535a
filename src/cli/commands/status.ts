import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { maskUrlCredentials } from '../../config/redact.ts';
import { settings } from '../../config/settings.ts';
import { BridgeError } from '../../errors.ts';
import { parsePrometheusText } from '../../status/prometheus-text.ts';
import { renderStatus } from '../../status/render.ts';
import { summarizeStatus, type Scrape, type StatusReport } from '../../status/summary.ts';
import { ExitCode, numberOption, parseCommandArgs, type CliCommand, type CliIo } from '../command.ts';

const options = {
  json: { type: 'boolean' },
  once: { type: 'boolean' },
  interval: { type: 'string' },
  timeout: { type: 'string' },
} as const;

const help = `Usage: gong-bridge status [options] [URL...]

A live view for on-call without Grafana. Reads /metrics of one or more replicas and prints one
screen: calls per second used against allowed; the daily quota left and when it runs out; lag per
partition and the age of the oldest unsettled record; dead letters by reason; halts with their
cause; the replicas that answered. On a terminal the screen refreshes every --interval seconds
until Ctrl-C; piped, or with --once or --json, it is printed once.

Rates need two readings, so a single screen reads every replica twice, --interval apart. Figures
add up across replicas; lag takes the largest reading per partition (every replica polls the
whole group), and the quota counts once when it is shared through Redis.

URL is a replica's metrics endpoint, http://host:port or http://host:port/metrics (host:port
alone means http). Without one: http://127.0.0.1:<HTTP_PORT>/metrics. A user and password in a
URL are used and never printed. In Kubernetes, reach each pod with \`kubectl port-forward\` or
from inside the cluster (the chart's NetworkPolicy may restrict who can).

Options:
  --interval S    Seconds between readings (default 2).
  --once          Print one screen and exit, even on a terminal.
  --json          Print the report as JSON on stdout and exit (implies --once).
  --timeout MS    Time allowed for each replica to answer (default 2000).

Exit codes: 0 every replica answered, 1 some did not, 2 usage error, 4 none answered.

Examples:
  gong-bridge status
  gong-bridge status http://10.0.3.7:9464 http://10.0.3.8:9464
  gong-bridge status --json localhost:9464 | jq '.lag.total'
`;

export const statusCommand: CliCommand = {
  name: 'status',
  summary: 'Live view of one or more running bridges from their /metrics: rate, quota, lag, halts.',
  help,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseCommandArgs(options, argv);
    const intervalMs = numberOption('interval', values.interval, 2, 0.1) * 1000;
    const timeoutMs = Math.floor(numberOption('timeout', values.timeout, 2_000, 100));
    const urls = (positionals.length > 0 ? positionals : [defaultUrl(io)]).map(metricsUrl);
    const read = () => Promise.all(urls.map((url) => scrape(url, timeoutMs)));
    const once = values.once === true || values.json === true || io.stdout.isTTY !== true;

    if (once) {
      const first = await read();
      if (!(await pause(intervalMs, io.signal))) return ExitCode.ok;
      const report = summarizeStatus(await read(), first);
      io.stdout.write(
        values.json === true ? `${JSON.stringify(report)}\n` : renderStatus(report, Date.now()),
      );
      return exitCode(report);
    }
    let previous: Scrape[] = [];
    for (;;) {
      const current = await read();
      const report = summarizeStatus(current, previous);
      // Home and clear, then the screen: a redraw without scrolling the terminal.
      io.stdout.write(
        `\u001b[H\u001b[2J${renderStatus(report, Date.now())}\nRefreshing every ${intervalMs / 1000} s; Ctrl-C to quit.\n`,
      );
      previous = current;
      if (!(await pause(intervalMs, io.signal))) return ExitCode.ok;
    }
  },
};

function defaultUrl(io: CliIo): string {
  const port = settings.HTTP_PORT.schema.safeParse(io.env.HTTP_PORT || undefined);
  return `http://127.0.0.1:${port.success ? port.data : 9464}/metrics`;
}

/** Accepts host:port, a base URL or the full /metrics URL. */
export function metricsUrl(given: string): string {
  // A path is a mistake (a file name where a URL belongs), not a host called "".
  if (/^[./~]/.test(given))
    throw new BridgeError('USAGE', `not a URL: ${given} (give http://host:port or host:port)`);
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(given) ? given : `http://${given}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new BridgeError('USAGE', `not a URL: ${maskUrlCredentials(withScheme)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new BridgeError('USAGE', `only http and https URLs: ${maskUrlCredentials(given)}`);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/metrics';
  return url.toString();
}

async function scrape(url: string, timeoutMs: number): Promise<Scrape> {
  const parsed = new URL(url);
  const headers: Record<string, string> = { accept: 'text/plain' };
  // undici does not send a URL's userinfo by itself; a proxy in front of /metrics may want it.
  if (parsed.username !== '' || parsed.password !== '') {
    const pair = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`;
    headers.authorization = `Basic ${Buffer.from(pair).toString('base64')}`;
    parsed.username = '';
    parsed.password = '';
  }
  try {
    const answer = await request(parsed, {
      headers,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await answer.body.text();
    if (answer.statusCode !== 200) return { url, at: Date.now(), error: `HTTP ${answer.statusCode}` };
    return { url, at: Date.now(), samples: parsePrometheusText(text) };
  } catch (error) {
    return { url, at: Date.now(), error: describe(error) };
  }
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const code = (error as { code?: string }).code ?? cause?.code;
  const message = error instanceof Error ? error.message : String(error);
  return code === undefined || message.includes(code) ? message : `${message} (${code})`;
}

/** Waits, or returns false at once when the command is asked to stop. */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

function exitCode(report: StatusReport): number {
  if (report.replicasSeen === 0) return ExitCode.unavailable;
  return report.replicasSeen === report.replicas.length ? ExitCode.ok : ExitCode.failure;
}

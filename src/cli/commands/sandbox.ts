import { BridgeError } from '../../errors.ts';
import { startSandbox, type SandboxOptions } from '../../sandbox/server.ts';
import { ExitCode, numberOption, parseCommandArgs, type CliCommand, type CliIo } from '../command.ts';

const options = {
  port: { type: 'string' },
  host: { type: 'string' },
  rps: { type: 'string' },
  'daily-limit': { type: 'string' },
  daily: { type: 'string' },
  'access-key': { type: 'string' },
  'access-key-secret': { type: 'string' },
  'bearer-token': { type: 'string' },
  'max-body-bytes': { type: 'string' },
  'keep-bodies': { type: 'string' },
  'keep-calls': { type: 'string' },
  'fail-rate': { type: 'string' },
  'fail-status': { type: 'string' },
  'latency-ms': { type: 'string' },
  'latency-jitter-ms': { type: 'string' },
  'lost-reply-rate': { type: 'string' },
  'outage-ms': { type: 'string' },
  'outage-status': { type: 'string' },
  record: { type: 'string' },
  seed: { type: 'string' },
  strict: { type: 'boolean' },
} as const;

const help = `Usage: gong-bridge sandbox [options]

Runs a local emulation of Gong's POST /v2/digital-interaction for tests, benchmarks and demos.
Stops on SIGINT/SIGTERM.

Options:
  --port N                 Port to listen on (default 8089; 0 picks a free one).
  --host H                 Address to bind (default 127.0.0.1).
  --access-key K           Accepted Basic credentials, with --access-key-secret
  --access-key-secret S    (default: GONG_ACCESS_KEY / GONG_ACCESS_KEY_SECRET from the environment).
  --bearer-token T         Also accept "Authorization: Bearer T" (default: GONG_BEARER_TOKEN).
  --rps N                  Calls allowed in any rolling second (default 3; 0 = unlimited).
  --daily-limit N          Calls allowed in any rolling 24 hours (default 10000; 0 = unlimited);
                           the same name as send's flag. --daily N is the older spelling.
  --max-body-bytes N       Largest body accepted, else 413 (default 1048576).
  --keep-bodies N          Most recent accepted bodies kept for inspection (default 10000);
                           every eventId is kept regardless, for deduplication.
  --keep-calls N           Most recent calls kept in /_sandbox/calls (default 100000).
  --record FILE            Append each accepted body to FILE as one JSON line.
  --strict                 Also answer 400 to bodies that break rules Gong does not document
                           (docs/reference/body-rules.md), as a Gong enforcing them would; the
                           default follows the published contract and accepts them.
Faults:
  --fail-rate P            Probability (0..1) that a call fails with a 5xx before storing anything.
  --fail-status LIST       Statuses drawn for --fail-rate (default 500,502,503,504).
  --latency-ms N           Delay before every reply (default 0).
  --latency-jitter-ms N    Extra delay drawn from [0, N) per reply (default 0).
  --lost-reply-rate P      Probability that a new event is stored and then answered 500, so the
                           retry gets 409.
  --outage-ms N            Start inside an outage: every call answers --outage-status for N ms.
  --outage-status N        Status during an outage (default 503).
  --seed N                 Seed for the fault draws, so a run's faults can be replayed.

POST /v2/digital-interaction checks, in order:
  503 outage; 401 bad or missing credentials; 413 Content-Length over the limit; 429 with
  Retry-After (integer seconds) when the rolling-second or rolling-24h budget is spent; 413 when a
  streamed body passes the limit; injected 5xx; 400 {requestId, errors} for a Content-Type other
  than application/json, malformed JSON or a body that breaks a rule the contract states (and,
  with --strict, one it does not); 409 for an eventId
  already accepted; injected lost reply (500); 200 {requestId}.
  Every authenticated call that passes the 429 check uses budget, whatever its answer; calls
  answered 401, 413 (by Content-Length), 429 or 503 (outage) do not.

Control endpoints (no authentication; JSON):
  GET  /_sandbox/health     {"ok":true}
  GET  /_sandbox/stats      {startedAt, calls, counted, byStatus:{"200":n,...}, byOutcome:{accepted,
                            lost-reply, duplicate, invalid, too-large, throttled-rate,
                            throttled-daily, unauthorized, injected-failure, outage},
                            bytesReceived, peakCallsPerRollingSecond, accepted, duplicates,
                            limits:{rps, daily, inLastSecond, inLast24h, dailyRemaining},
                            faults, maxBodyBytes, strict, recordError}
  GET  /_sandbox/accepted   ?offset=0&limit=1000 or ?eventId=ID
                            {total, offset, limit, events:[{eventId, acceptedAt, conflicts, body}]}
  GET  /_sandbox/calls      ?since=SEQ&limit=N
                            {lastSeq, calls:[{seq, at, t, status, outcome, counted, eventId,
                            requestId}]}  (at: epoch ms; t: monotonic ms, for spacing checks)
  GET  /_sandbox/faults     current faults plus {outageUntil, outageRemainingMs}
  POST /_sandbox/faults     any of {"failRate":0.1, "failStatuses":[500,503], "latencyMs":50,
                            "latencyJitterMs":20, "lostReplyRate":0.05, "outageMs":30000,
                            "outageStatus":503, "outageRetryAfter":true}; outageMs starts an
                            outage now (0 ends it). Answers the new settings.
  POST /_sandbox/reset      forgets events, calls, counters and quota use; restores start-up faults.

Exit codes: 0 stopped on a signal, 2 usage error (e.g. no credentials), 3 the port cannot be
bound.

Examples:
  gong-bridge sandbox --access-key key --access-key-secret secret
  gong-bridge sandbox --port 0 --rps 0 --daily-limit 0 --bearer-token t --fail-rate 0.05 --seed 7
  gong-bridge sandbox --bearer-token t --strict     # also refuses rules Gong does not document
  curl -s -XPOST localhost:8089/_sandbox/faults -d '{"outageMs":30000}'
`;

function wholeOption(
  name: string,
  value: string | undefined,
  fallback: number,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
) {
  const parsed = numberOption(name, value, fallback, min);
  if (!Number.isInteger(parsed) || parsed > max) {
    throw new BridgeError(
      'USAGE',
      `--${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return parsed;
}

function probabilityOption(name: string, value: string | undefined): number {
  const parsed = numberOption(name, value, 0, 0);
  if (parsed > 1)
    throw new BridgeError(
      'USAGE',
      `--${name} must be a probability from 0 to 1, got ${JSON.stringify(value)}`,
    );
  return parsed;
}

function statusListOption(name: string, value: string | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  const statuses = value.split(',').map((part) => Number(part.trim()));
  if (
    statuses.length === 0 ||
    statuses.some((status) => !Number.isInteger(status) || status < 500 || status > 599)
  ) {
    throw new BridgeError(
      'USAGE',
      `--${name} must list 5xx statuses separated by commas, got ${JSON.stringify(value)}`,
    );
  }
  return statuses;
}

export function sandboxOptionsFromArgs(argv: string[], env: CliIo['env']): SandboxOptions {
  const { values, positionals } = parseCommandArgs(options, argv, false);
  if (positionals.length > 0) throw new BridgeError('USAGE', `unexpected argument ${positionals[0] ?? ''}`);
  const accessKey = values['access-key'] ?? env.GONG_ACCESS_KEY;
  const accessKeySecret = values['access-key-secret'] ?? env.GONG_ACCESS_KEY_SECRET;
  const bearerToken = values['bearer-token'] ?? env.GONG_BEARER_TOKEN;
  if ((accessKey === undefined) !== (accessKeySecret === undefined)) {
    throw new BridgeError('USAGE', '--access-key and --access-key-secret go together');
  }
  if (accessKey === undefined && bearerToken === undefined) {
    throw new BridgeError('USAGE', 'give --access-key and --access-key-secret, or --bearer-token');
  }
  const failStatuses = statusListOption('fail-status', values['fail-status']);
  const outageStatus = values['outage-status'];
  return {
    port: wholeOption('port', values.port, 8089, 0, 65_535),
    host: values.host ?? '127.0.0.1',
    rps: wholeOption('rps', values.rps, 3),
    daily: dailyLimit(values['daily-limit'], values.daily),
    accessKey,
    accessKeySecret,
    bearerToken,
    maxBodyBytes: wholeOption('max-body-bytes', values['max-body-bytes'], 1_048_576, 1),
    keepBodies: wholeOption('keep-bodies', values['keep-bodies'], 10_000),
    keepCalls: wholeOption('keep-calls', values['keep-calls'], 100_000),
    faults: {
      failRate: probabilityOption('fail-rate', values['fail-rate']),
      ...(failStatuses === undefined ? {} : { failStatuses }),
      latencyMs: wholeOption('latency-ms', values['latency-ms'], 0, 0, 86_400_000),
      latencyJitterMs: wholeOption('latency-jitter-ms', values['latency-jitter-ms'], 0, 0, 86_400_000),
      lostReplyRate: probabilityOption('lost-reply-rate', values['lost-reply-rate']),
      ...(outageStatus === undefined
        ? {}
        : { outageStatus: wholeOption('outage-status', outageStatus, 503, 500, 599) }),
    },
    outageMs: wholeOption('outage-ms', values['outage-ms'], 0, 0, 86_400_000),
    seed: values.seed === undefined ? undefined : wholeOption('seed', values.seed, 0, 0, 2 ** 32 - 1),
    recordFile: values.record,
    strict: values.strict === true,
  };
}

export const sandboxCommand: CliCommand = {
  name: 'sandbox',
  summary: "Run a local emulation of Gong's digital-interaction endpoint, with limits and faults.",
  help,
  async run(argv, io) {
    const sandbox = await startSandbox(sandboxOptionsFromArgs(argv, io.env));
    io.stdout.write(`gong sandbox listening on ${sandbox.url}\n`);
    if (!io.signal.aborted) {
      await new Promise<void>((resolve) =>
        io.signal.addEventListener('abort', () => resolve(), { once: true }),
      );
    }
    await sandbox.close();
    return ExitCode.ok;
  },
};

export default sandboxCommand;

function dailyLimit(current: string | undefined, older: string | undefined): number {
  if (current !== undefined && older !== undefined && current !== older) {
    throw new BridgeError('USAGE', `--daily-limit ${current} and --daily ${older} disagree; give one`);
  }
  return current !== undefined
    ? wholeOption('daily-limit', current, 10_000)
    : wholeOption('daily', older, 10_000);
}

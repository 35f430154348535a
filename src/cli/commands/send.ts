import { createReadStream } from 'node:fs';
import { access, open, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import { loadConfig } from '../../config/config.ts';
import type { Settings } from '../../config/settings.ts';
import { createDeliveryEngine, deliveryEngineSettings, type DeliveryOutcome } from '../../delivery/engine.ts';
import type { Clock, RateLimiter, Sleep } from '../../delivery/limiter-types.ts';
import { systemClock, systemSleep } from '../../delivery/system-time.ts';
import { BridgeError, isBridgeError } from '../../errors.ts';
import { createGongClient, gongClientOptionsFromConfig } from '../../gong/client.ts';
import type { InferredRuleName } from '../../gong/rule-catalogue.ts';
import type { GongBodyValidator } from '../../gong/validate.ts';
import { decodeAvroJson } from '../../schemas/avro-json.ts';
import { newestSchema } from '../../schemas/registry-files.ts';
import type { InteractionEvent } from '../../transform/interaction-event.ts';
import { transformEvent } from '../../transform/transform.ts';
import { ExitCode, numberOption, parseCommandArgs, type CliCommand, type CliIo } from '../command.ts';
import { openCommandQuota, quotaShareHelp, quotaShareOption, resolveShare } from '../command-quota.ts';
import { readInputLines } from '../line-input.ts';
import { LineProgress, readCheckpoint, writeCheckpoint } from '../send-checkpoint.ts';

const options = {
  events: { type: 'boolean' },
  rejects: { type: 'string' },
  checkpoint: { type: 'string' },
  resume: { type: 'boolean' },
  concurrency: { type: 'string' },
  rps: { type: 'string' },
  'daily-limit': { type: 'string' },
  'base-url': { type: 'string' },
  'no-limiter': { type: 'boolean' },
  'progress-interval': { type: 'string' },
  json: { type: 'boolean' },
  ...quotaShareOption,
} as const;

const help = `Usage: gong-bridge send [FILE] [options]

Backfill: delivers each line of FILE (or stdin when FILE is absent or "-") to Gong's
POST /v2/digital-interaction through the same engine as the Kafka pipeline: validation, the
rate limiter, retries with backoff, 429 pauses and the auth halt. Transient failures are retried
until they succeed; a 409 counts as delivered. Settings come from the environment (GONG_*).

Input:
  JSON Lines of Gong request bodies, or with --events JSON Lines of InteractionEvents in Avro's
  JSON encoding (newest schema in schemas/), transformed exactly as the pipeline does.
  Blank lines are skipped but counted, so line numbers match your file.

Options:
  --events               Lines are Avro-JSON interaction events, not Gong bodies.
  --rejects FILE         Append rejected (Gong 4xx) and invalid lines here as JSON Lines:
                         {"line":N,"outcome":"rejected"|"invalid","errors":[...],"status":..,
                          "requestId":..,"eventId":..,"inferredRules":[..],"input":"<the line>"};
                         inferredRules names the rules Gong does not document that the line
                         broke (GONG_INFERRED_RULES, docs/reference/body-rules.md).
  --checkpoint FILE      Progress file (default FILE.checkpoint; none for stdin unless given).
                         Rewritten atomically about twice a second and at the end.
  --resume               Skip the lines the checkpoint records as finished.
  --concurrency N        Deliveries in flight (default 8).
${quotaShareHelp(25)}
  --rps N                The account's calls per second (default GONG_RATE_PER_SECOND, 3);
                         without REDIS_URL only: with it the service's limits apply.
  --daily-limit N        The account's calls per day (default GONG_DAILY_LIMIT, 10000); the
                         same.
  --no-limiter           No client-side rate limit (benchmarks against an unthrottled sandbox).
  --base-url URL         Gong base URL (default GONG_BASE_URL).
  --progress-interval MS Period of progress lines when stderr is not a terminal (default 5000).
  --json                 Print the summary as one JSON object on stdout.

Progress goes to stderr: a bar with an ETA on a terminal, plain lines otherwise.
Interrupt with Ctrl-C: in-flight calls finish or are abandoned, the checkpoint is written, and
--resume continues where it stopped (a call whose answer was lost comes back as a 409).

Exit codes: 0 every line delivered (or duplicate), 1 some line rejected or invalid, or
interrupted, 2 usage error or unreadable input, 3 configuration error.

Next to a running bridge, with REDIS_URL set as the bridge has it, a run joins the account's
shared quota. Without Redis it cannot see the bridge's calls: --share says which part it takes.

Examples:
  GONG_ACCESS_KEY=... GONG_ACCESS_KEY_SECRET=... gong-bridge send bodies.jsonl --rejects rejects.jsonl --share 1
  REDIS_URL=redis://redis:6379 gong-bridge send events.jsonl --events --resume --json
  gong-bridge send bodies.jsonl --base-url http://127.0.0.1:8089 --rps 5 --share 0.5
`;

export interface SendSummary {
  lines: number;
  skipped: number;
  delivered: number;
  duplicates: number;
  rejected: number;
  invalid: number;
  /** Lines sent although they break inferred rules (GONG_INFERRED_RULES=send). */
  flagged: number;
  retries: number;
  throttled: number;
  calls: number;
  /** Calls per event that reached Gong (delivered + duplicates); 1.0 is the ideal. */
  callsPerDelivered: number | null;
  elapsedMs: number;
  interrupted: boolean;
}

/** Collaborators a test may replace; `run` uses the real ones. */
export interface SendDependencies {
  readonly clock: Clock;
  readonly sleep: Sleep;
  /** Builds the limiter for the run; default: the account's quota share (see command-quota.ts). */
  readonly limiter?: (config: Settings, clock: Clock, sleep: Sleep) => RateLimiter;
  /** Wait before the first auth probe; default 30 s (tests shorten it). */
  readonly authProbeIntervalMs?: number;
}

export const sendCommand: CliCommand = {
  name: 'send',
  summary: 'Backfill: deliver a JSON Lines file of Gong bodies or events to Gong.',
  help,
  run: (argv, io) => runSend(argv, io, { clock: systemClock, sleep: systemSleep }),
};

export async function runSend(argv: string[], io: CliIo, deps: SendDependencies): Promise<number> {
  const { values, positionals } = parseCommandArgs(options, argv);
  if (positionals.length > 1)
    throw new BridgeError('USAGE', `expected at most one FILE, got ${positionals.length}`);
  const file = positionals[0] === '-' ? undefined : positionals[0];
  const concurrency = Math.floor(numberOption('concurrency', values.concurrency, 8, 1));
  const progressIntervalMs = numberOption('progress-interval', values['progress-interval'], 5_000, 100);
  const env: Record<string, string | undefined> = { ...io.env };
  if (values.rps !== undefined) env.GONG_RATE_PER_SECOND = String(numberOption('rps', values.rps, 0, 0.001));
  if (values['daily-limit'] !== undefined) {
    env.GONG_DAILY_LIMIT = String(numberOption('daily-limit', values['daily-limit'], 0, 1));
  }
  if (values['base-url'] !== undefined) env.GONG_BASE_URL = values['base-url'];
  if (values['no-limiter'] === true) env.GONG_LIMITER_DISABLED = 'true';
  // A mistyped file name is a usage error (exit 2); report it before a missing setting (exit 3),
  // so the user fixes the command line first.
  if (file !== undefined) {
    await access(resolve(io.cwd, file)).catch((cause: unknown) => {
      const reason = (cause as { code?: string }).code ?? String(cause);
      throw new BridgeError('INPUT_UNREADABLE', `cannot read ${file}: ${reason}`, { cause });
    });
  }
  const config = loadConfig(env);
  // Quota flags are checked before anything is read or sent.
  resolveShare({
    command: 'send',
    config,
    share: values.share,
    limitsOverridden: values.rps !== undefined || values['daily-limit'] !== undefined,
  });

  const checkpointPath =
    values.checkpoint !== undefined
      ? resolve(io.cwd, values.checkpoint)
      : file !== undefined
        ? `${resolve(io.cwd, file)}.checkpoint`
        : undefined;
  if (values.resume === true && checkpointPath === undefined) {
    throw new BridgeError('USAGE', '--resume reading stdin needs --checkpoint FILE');
  }
  const inputName = file === undefined ? '-' : resolve(io.cwd, file);
  let progress = new LineProgress();
  if (values.resume === true && checkpointPath !== undefined) {
    const saved = await readCheckpoint(checkpointPath);
    if (saved !== undefined) {
      if (saved.input !== inputName) {
        throw new BridgeError(
          'USAGE',
          `checkpoint ${checkpointPath} belongs to ${saved.input}, not ${inputName}`,
        );
      }
      progress = new LineProgress(saved.watermark, saved.done);
    }
  }

  const { clock, sleep } = deps;
  const quota =
    deps.limiter === undefined
      ? await openCommandQuota({
          command: 'send',
          config,
          share: values.share,
          limitsOverridden: values.rps !== undefined || values['daily-limit'] !== undefined,
          clock,
          sleep,
          io,
        })
      : (() => {
          const given = deps.limiter(config, clock, sleep);
          return { limiter: given, close: () => given.close() };
        })();
  const { limiter } = quota;
  const client = createGongClient(
    gongClientOptionsFromConfig(
      config,
      clock,
      values['base-url'] === undefined ? {} : { baseUrl: values['base-url'] },
    ),
  );
  const engineSettings = deliveryEngineSettings(config);
  const engine = createDeliveryEngine({
    client,
    limiter,
    clock,
    sleep,
    ...engineSettings,
    ...(deps.authProbeIntervalMs === undefined ? {} : { authProbeIntervalMs: deps.authProbeIntervalMs }),
  });

  const summary: SendSummary = {
    lines: 0,
    skipped: 0,
    delivered: 0,
    duplicates: 0,
    rejected: 0,
    invalid: 0,
    flagged: 0,
    retries: 0,
    throttled: 0,
    calls: 0,
    callsPerDelivered: null,
    elapsedMs: 0,
    interrupted: false,
  };
  engine.events.on('call', () => (summary.calls += 1));
  engine.events.on('retry', () => (summary.retries += 1));
  engine.events.on('flagged', () => (summary.flagged += 1));
  engine.events.on('throttled', () => (summary.throttled += 1));
  engine.events.on('auth-failed', (event) => {
    io.stderr.write(
      `\ngong-bridge send: delivery halted: Gong answered ${event.status || event.reason} (${event.reason}); ` +
        `probing until a call gets through. ${event.errors?.join('; ') ?? ''}\n`,
    );
  });
  engine.events.on('auth-recovered', (event) => {
    io.stderr.write(
      `\ngong-bridge send: a probe got through after ${Math.round(event.haltedMs / 1000)} s; resuming\n`,
    );
  });
  engine.events.on('outage', (event) => {
    io.stderr.write(
      `\ngong-bridge send: Gong unavailable (${event.status ?? event.code}, ${event.failures} failures in a row); ` +
        `one probe at a time until it answers\n`,
    );
  });
  engine.events.on('outage-ended', (event) => {
    io.stderr.write(
      `\ngong-bridge send: Gong answers again after ${Math.round(event.outageMs / 1000)} s; resuming\n`,
    );
  });
  engine.events.on('retry-alert', (event) => {
    io.stderr.write(
      `\ngong-bridge send: ${event.eventId ?? 'a record'} still not delivered after ${event.attempts} attempts ` +
        `(${Math.round(event.elapsedMs / 1000)} s, last: ${event.lastReason}); still retrying\n`,
    );
  });

  let rejectsHandle: FileHandle | undefined;
  let rejectsDirty = false;
  if (values.rejects !== undefined) {
    try {
      rejectsHandle = await open(resolve(io.cwd, values.rejects), values.resume === true ? 'a' : 'w');
    } catch (cause) {
      throw new BridgeError('INPUT_UNREADABLE', `cannot open --rejects ${values.rejects}`, { cause });
    }
  }
  // Appends are chained so lines never interleave, and the checkpoint waits for them.
  let rejectsChain: Promise<void> = Promise.resolve();
  const writeReject = (entry: Record<string, unknown>): Promise<void> => {
    if (rejectsHandle === undefined) return Promise.resolve();
    const handle = rejectsHandle;
    rejectsChain = rejectsChain.then(async () => {
      await handle.write(`${JSON.stringify(entry)}\n`);
      rejectsDirty = true;
    });
    return rejectsChain;
  };

  let checkpointChain: Promise<void> = Promise.resolve();
  let lastCheckpointAt = Number.NEGATIVE_INFINITY;
  let checkpointChanged = false;
  const saveCheckpoint = (force: boolean): Promise<void> => {
    if (checkpointPath === undefined || !checkpointChanged) return checkpointChain;
    const now = clock.now();
    if (!force && now - lastCheckpointAt < 500) return checkpointChain;
    lastCheckpointAt = now;
    checkpointChanged = false;
    const data = progress.toData(inputName);
    checkpointChain = checkpointChain.then(async () => {
      // The checkpoint may only claim a rejected line once its reject entry is durable.
      await rejectsChain;
      if (rejectsDirty && rejectsHandle !== undefined) {
        rejectsDirty = false;
        await rejectsHandle.sync();
      }
      await writeCheckpoint(checkpointPath, data);
    });
    return checkpointChain;
  };

  const total = file === undefined ? undefined : await countLines(resolve(io.cwd, file));
  const started = clock.now();
  const reporter = startProgress(io, summary, {
    total,
    alreadyDone: progress.watermark,
    clock,
    intervalMs: progressIntervalMs,
    ratePerSecond: config.GONG_LIMITER_DISABLED ? undefined : config.GONG_RATE_PER_SECOND,
    halted: () => engine.isHalted(),
  });

  const signal = io.signal;
  const inFlight = new Set<Promise<void>>();
  let slotFreed: (() => void) | undefined;
  let failure: unknown;
  const schema = values.events === true ? newestSchema() : undefined;

  const settle = async (lineNumber: number, line: string, outcome: DeliveryOutcome) => {
    switch (outcome.kind) {
      case 'delivered':
        summary.delivered += 1;
        break;
      case 'duplicate':
        summary.duplicates += 1;
        break;
      case 'rejected':
        summary.rejected += 1;
        await writeReject({
          line: lineNumber,
          outcome: 'rejected',
          status: outcome.status,
          ...(outcome.requestId === undefined ? {} : { requestId: outcome.requestId }),
          ...eventIdOf(line),
          errors: outcome.errors,
          ...(outcome.inferredRules === undefined ? {} : { inferredRules: outcome.inferredRules }),
          input: line,
        });
        break;
      case 'invalid':
        summary.invalid += 1;
        await writeReject({
          line: lineNumber,
          outcome: 'invalid',
          ...eventIdOf(line),
          errors: outcome.errors,
          ...(outcome.inferredRules === undefined ? {} : { inferredRules: outcome.inferredRules }),
          input: line,
        });
        break;
    }
    progress.markDone(lineNumber);
    checkpointChanged = true;
    void saveCheckpoint(false);
  };

  try {
    let lineNumber = 0;
    for await (const line of readInputLines(file, io)) {
      lineNumber += 1;
      if (signal.aborted || failure !== undefined) break;
      if (line.trim() === '') {
        progress.markDone(lineNumber);
        continue;
      }
      summary.lines += 1;
      if (progress.isDone(lineNumber)) {
        summary.skipped += 1;
        continue;
      }
      const body = toBody(line, schema, engineSettings.validate);
      const number = lineNumber;
      const task: Promise<void> = (async () => {
        try {
          const outcome = body.ok
            ? await engine.deliver(body.value, { signal })
            : ({
                kind: 'invalid',
                errors: body.errors,
                ...(body.inferredRules === undefined ? {} : { inferredRules: body.inferredRules }),
              } as const);
          if (!body.ok) engine.events.emit('invalid', { errors: body.errors });
          await settle(number, line, outcome);
        } catch (error) {
          if (!(isBridgeError(error) && error.code === 'SHUTTING_DOWN')) failure ??= error;
        }
      })().finally(() => {
        inFlight.delete(task);
        const wake = slotFreed;
        slotFreed = undefined;
        wake?.();
      });
      inFlight.add(task);
      // Wait for a free slot. A single resolver instead of Promise.race over every task: race
      // would attach a handler to each in-flight task per line, O(concurrency) work per event.
      while (inFlight.size >= concurrency) {
        await new Promise<void>((resolve) => {
          slotFreed = resolve;
        });
      }
    }
    await Promise.all(inFlight);
  } finally {
    summary.interrupted = signal.aborted;
    await Promise.allSettled(inFlight);
    reporter.stop();
    checkpointChanged = true;
    await saveCheckpoint(true).catch((error: unknown) => {
      failure ??= error;
    });
    await rejectsChain.catch(() => {});
    await rejectsHandle?.close();
    engine.close();
    await client.close();
    await quota.close();
  }
  if (failure !== undefined) throw failure;

  summary.elapsedMs = Math.round(clock.now() - started);
  const reached = summary.delivered + summary.duplicates;
  summary.callsPerDelivered = reached === 0 ? null : Number((summary.calls / reached).toFixed(3));
  if (values.json === true) {
    io.stdout.write(`${JSON.stringify(summary)}\n`);
  } else {
    io.stderr.write(formatSummary(summary));
  }
  if (summary.interrupted) {
    io.stderr.write(`gong-bridge send: interrupted; rerun with --resume to continue\n`);
    return ExitCode.failure;
  }
  return summary.rejected + summary.invalid === 0 ? ExitCode.ok : ExitCode.failure;
}

type ParsedLine =
  { ok: true; value: unknown } | { ok: false; errors: string[]; inferredRules?: readonly InferredRuleName[] };

function toBody(
  line: string,
  schema: ReturnType<typeof newestSchema> | undefined,
  validate: GongBodyValidator | undefined,
): ParsedLine {
  if (schema !== undefined) {
    const decoded = decodeAvroJson(schema.type, line);
    if (!decoded.ok) return decoded;
    // The engine validates the body again; the transform must judge it with the same settings.
    const transformed = transformEvent(decoded.value as InteractionEvent, validate);
    return transformed.ok ? { ok: true, value: transformed.body } : transformed;
  }
  try {
    return { ok: true, value: JSON.parse(line) as unknown };
  } catch (cause) {
    return {
      ok: false,
      errors: [`(root): not valid JSON: ${cause instanceof Error ? cause.message : String(cause)}`],
    };
  }
}

function eventIdOf(line: string): { eventId?: string } {
  const match = /"eventId"\s*:\s*(?:\{\s*"string"\s*:\s*)?"((?:[^"\\]|\\.)*)"/.exec(line);
  if (match?.[1] === undefined) return {};
  try {
    return { eventId: JSON.parse(`"${match[1]}"`) as string };
  } catch {
    return {};
  }
}

async function countLines(path: string): Promise<number> {
  let count = 0;
  let last = 10;
  try {
    for await (const chunk of createReadStream(path)) {
      const buffer = chunk as Buffer;
      for (let index = buffer.indexOf(10); index !== -1; index = buffer.indexOf(10, index + 1)) count += 1;
      if (buffer.length > 0) last = buffer[buffer.length - 1] ?? 10;
    }
  } catch (cause) {
    throw new BridgeError('INPUT_UNREADABLE', `cannot read ${path}`, { cause });
  }
  return last === 10 ? count : count + 1;
}

interface ProgressOptions {
  readonly total: number | undefined;
  readonly alreadyDone: number;
  readonly clock: Clock;
  readonly intervalMs: number;
  readonly ratePerSecond: number | undefined;
  readonly halted: () => boolean;
}

/**
 * A bar on a terminal, plain lines otherwise (CI logs and files do not understand \r). The ETA
 * assumes the limiter's rate: in a backfill that is the bottleneck, and it does not swing with
 * every retry the way an observed rate would.
 */
function startProgress(io: CliIo, summary: SendSummary, options: ProgressOptions): { stop(): void } {
  const tty = io.stderr.isTTY === true;
  const started = options.clock.now();
  const render = () => {
    const done = summary.delivered + summary.duplicates + summary.rejected + summary.invalid;
    const elapsedS = (options.clock.now() - started) / 1000;
    const observed = elapsedS > 0 ? summary.calls / elapsedS : 0;
    const total = options.total === undefined ? undefined : Math.max(0, options.total - options.alreadyDone);
    const remaining = total === undefined ? undefined : Math.max(0, total - done);
    const rate = options.ratePerSecond ?? (observed > 0 ? observed : undefined);
    const eta = remaining === undefined || rate === undefined ? '?' : formatDuration(remaining / rate);
    const counts = `delivered ${summary.delivered} dup ${summary.duplicates} rejected ${summary.rejected} invalid ${summary.invalid} retries ${summary.retries}`;
    const state = options.halted() ? ' HALTED (auth)' : '';
    if (tty) {
      const width = 24;
      const fraction = total === undefined || total === 0 ? 0 : Math.min(1, done / total);
      const filled = Math.round(fraction * width);
      const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
      const of = total === undefined ? `${done}` : `${done}/${total} ${Math.floor(fraction * 100)}%`;
      io.stderr.write(`\r${bar} ${of} ${counts} ${observed.toFixed(1)} calls/s ETA ${eta}${state}\x1b[K`);
    } else {
      const of = total === undefined ? `${done}` : `${done}/${total}`;
      io.stderr.write(
        `send: ${of} ${counts} calls ${summary.calls} (${observed.toFixed(1)}/s) ETA ${eta}${state}\n`,
      );
    }
  };
  const timer = setInterval(render, tty ? 250 : options.intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      if (tty) {
        render();
        io.stderr.write('\n');
      }
    },
  };
}

function formatDuration(seconds: number): string {
  const s = Math.ceil(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return h > 0
    ? `${h}:${String(m).padStart(2, '0')}:${String(rest).padStart(2, '0')}`
    : `${m}:${String(rest).padStart(2, '0')}`;
}

function formatSummary(summary: SendSummary): string {
  return [
    `delivered   ${summary.delivered}`,
    `duplicates  ${summary.duplicates}`,
    `rejected    ${summary.rejected}`,
    `invalid     ${summary.invalid}`,
    ...(summary.flagged > 0
      ? [`flagged     ${summary.flagged} (sent; broke rules Gong does not document)`]
      : []),
    ...(summary.skipped > 0 ? [`skipped     ${summary.skipped} (already done, --resume)`] : []),
    `retries     ${summary.retries}`,
    `calls       ${summary.calls}`,
    `calls/event ${summary.callsPerDelivered ?? '-'}`,
    `elapsed     ${formatDuration(summary.elapsedMs / 1000)}`,
    '',
  ].join('\n');
}

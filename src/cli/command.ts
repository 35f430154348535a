import { parseArgs, type ParseArgsConfig } from 'node:util';
import { BridgeError, type ErrorCode } from '../errors.ts';

/** Exit codes shared by every command; documented in `gong-bridge --help` and the README. */
export const ExitCode = {
  ok: 0,
  /** Some input was invalid, or some work did not succeed (e.g. an invalid line). */
  failure: 1,
  /** Usage error: unknown flag, bad argument, unreadable input file. */
  usage: 2,
  /** Configuration or environment problem found at start-up, including credentials Kafka refused. */
  config: 3,
  /** A service the command needs (Kafka, the registry, Redis) cannot be reached. */
  unavailable: 4,
  /** A bug: an error nobody classified. Printed with its stack. */
  internal: 70,
} as const;

/**
 * The exit code of a command that ends with a BridgeError, by code. A code not listed here is a
 * bug when it reaches the top (ExitCode.internal). Wrong Kafka credentials or certificates are a
 * configuration error like any other bad setting: the fix is in the settings, not a retry.
 */
export const exitCodeByError: Readonly<Partial<Record<ErrorCode, number>>> = {
  USAGE: ExitCode.usage,
  INPUT_UNREADABLE: ExitCode.usage,
  CONFIG_INVALID: ExitCode.config,
  KAFKA_AUTH_FAILED: ExitCode.config,
  // Refused registry credentials and a target topic that refuses writes are fixed in the
  // settings or the ACLs, like refused Kafka credentials.
  REGISTRY_AUTH_FAILED: ExitCode.config,
  TOPIC_UNWRITABLE: ExitCode.config,
  KAFKA_UNAVAILABLE: ExitCode.unavailable,
  REGISTRY_UNAVAILABLE: ExitCode.unavailable,
  REDIS_UNAVAILABLE: ExitCode.unavailable,
};

export interface CliIo {
  readonly stdin: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM); long-running commands race it. */
  readonly signal: AbortSignal;
}

export interface CliCommand {
  readonly name: string;
  readonly summary: string;
  /** Full help text: usage line, options and at least one example. */
  readonly help: string;
  run(argv: string[], io: CliIo): Promise<number>;
}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/**
 * Strict flag parsing for every command: an unknown flag or a missing value becomes a USAGE
 * error (exit 2, one line) instead of a stack trace.
 */
export function parseCommandArgs<T extends OptionSpec>(options: T, argv: string[], allowPositionals = true) {
  try {
    return parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals,
    });
  } catch (cause) {
    const message = cause instanceof Error ? (cause.message.split('\n')[0] ?? '') : String(cause);
    // Node's text for an unknown option goes on to explain positionals starting with '-', which
    // buries the point; keep its first sentence and say where the real options are.
    const unknown = /^Unknown option '([^']+)'/.exec(message);
    throw new BridgeError(
      'USAGE',
      unknown === null ? message || 'invalid arguments' : `unknown option ${unknown[1] ?? ''} (see --help)`,
      { cause },
    );
  }
}

export function numberOption(name: string, value: string | undefined, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < min) {
    throw new BridgeError('USAGE', `--${name} must be a number >= ${min}, got ${JSON.stringify(value)}`);
  }
  return parsed;
}

const durationUnits: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A time flag (`--since`, `--until`): ISO 8601 (`2026-11-24T09:00:00Z`), epoch milliseconds, or a
 * duration before `now` (`90s`, `15m`, `2h`, `7d`). Epoch ms in a plain number, never seconds:
 * a 10-digit number is milliseconds in 1970, which no event is.
 */
export function timeOption(name: string, value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const ago = /^(\d+)([smhd])$/.exec(value);
  const ms =
    ago !== null
      ? now - Number(ago[1]) * durationUnits[ago[2]!]!
      : /^\d+$/.test(value)
        ? Number(value)
        : Date.parse(value);
  if (!Number.isFinite(ms)) {
    throw new BridgeError(
      'USAGE',
      `--${name} must be ISO 8601, epoch ms or a duration ago (15m, 2h, 7d), got ${value}`,
    );
  }
  return ms;
}

#!/usr/bin/env node
import { nearestName } from '../shared/nearest-name.ts';
import { maskUrlCredentials } from '../config/redact.ts';
import { isBridgeError } from '../errors.ts';
import { ExitCode, exitCodeByError, type CliCommand, type CliIo } from './command.ts';
import { sameRequestMs, stopSignalPolicy } from './stop-signals.ts';

/**
 * Commands load lazily so `gong-bridge check-payload` does not pay for kafkajs, and so each
 * command lives in one file under commands/.
 */
const commands: Record<string, () => Promise<CliCommand>> = {
  // Add one line per command, keep alphabetical.
  'check-payload': async () => (await import('./commands/check-payload.ts')).checkPayloadCommand,
  config: async () => (await import('./commands/config.ts')).configCommand,
  doctor: async () => (await import('./commands/doctor.ts')).doctorCommand,
  'produce-sample': async () => (await import('./commands/produce-sample.ts')).produceSampleCommand,
  'replay-dlq': async () => (await import('./commands/replay-dlq.ts')).replayDlqCommand,
  receipts: async () => (await import('./commands/receipts.ts')).receiptsCommand,
  run: async () => (await import('./commands/run.ts')).runCommand,
  sandbox: async () => (await import('./commands/sandbox.ts')).sandboxCommand,
  send: async () => (await import('./commands/send.ts')).sendCommand,
  status: async () => (await import('./commands/status.ts')).statusCommand,
  transform: async () => (await import('./commands/transform.ts')).transformCommand,
};

async function mainHelp(): Promise<string> {
  const names = Object.keys(commands).sort();
  const width = Math.max(...names.map((name) => name.length));
  // A command that fails to load must not take the overview down with it.
  const summaries = await Promise.all(
    names.map(async (name) => (await commands[name]!().catch(() => undefined))?.summary ?? ''),
  );
  return [
    "gong-bridge: deliver Kafka interaction events to Gong's Post a Digital Interaction API.",
    '',
    'Usage: gong-bridge <command> [options]',
    '',
    'Commands:',
    ...names.map((name, index) => `  ${name.padEnd(width)}  ${summaries[index] ?? ''}`),
    '',
    "Run `gong-bridge help <command>` or `gong-bridge <command> --help` for a command's options",
    'and examples. Settings come from the environment: docs/reference/configuration.md;',
    '`gong-bridge config` shows the ones in force and where each came from.',
    '',
    'Examples:',
    '  gong-bridge doctor                      check the configuration end to end',
    '  gong-bridge status                      live view of the bridge on this host (rate, quota, lag)',
    '  gong-bridge transform events.jsonl      what Gong would receive for Avro-JSON events',
    '  gong-bridge sandbox --access-key k --access-key-secret s',
    '',
    'Exit codes: 0 ok, 1 some input invalid or work failed (doctor: a check failed),',
    '            2 usage error or unreadable input, 3 configuration error (including Kafka',
    '            credentials or certificates refused), 4 Kafka, the registry or Redis unreachable',
    '            (run: or the consumer crashed), 70 internal error (a bug), 130 interrupted again',
    '            more than 3 s after the first Ctrl-C or SIGTERM (the first stops gracefully).',
  ].join('\n');
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [first, ...afterFirst] = argv;
  // `gong-bridge help run` is `gong-bridge run --help`, as in git, npm and kubectl.
  const helpFor = first === 'help' ? afterFirst[0] : undefined;
  const [name, ...rest] = helpFor === undefined ? argv : [helpFor, '--help'];
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(`${await mainHelp()}\n`);
    return name === undefined ? ExitCode.usage : ExitCode.ok;
  }
  if (name === '--version' || name === '-V') {
    const { version } = await import('../version.ts');
    io.stdout.write(`${version}\n`);
    return ExitCode.ok;
  }
  const load = commands[name];
  if (load === undefined) {
    const nearest = nearestName(name, Object.keys(commands));
    const hint = nearest === undefined ? '' : ` Did you mean "${nearest}"?`;
    io.stderr.write(`gong-bridge: unknown command "${name}".${hint} Run gong-bridge --help.\n`);
    return ExitCode.usage;
  }
  const command = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(`${command.help.trimEnd()}\n`);
    return ExitCode.ok;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    const code = isBridgeError(error) ? exitCodeByError[error.code] : undefined;
    if (code === undefined) throw error;
    // One message, no stack: these are the operator's to fix, not ours. The message may quote a
    // URL from the settings, so its credentials are masked like everywhere else.
    io.stderr.write(`gong-bridge ${name}: ${maskUrlCredentials((error as Error).message)}\n`);
    return code;
  }
}

const isEntryPoint =
  process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/'));
if (isEntryPoint || process.argv[1]?.endsWith('gong-bridge')) {
  const controller = new AbortController();
  // The first signal stops gracefully; repeats within a few seconds (a terminal's Ctrl-C and a
  // wrapper's SIGTERM) are the same request; a later one exits at once (stop-signals.ts).
  const decide = stopSignalPolicy(() => performance.now());
  const onSignal = (signal: NodeJS.Signals) => {
    const decision = decide();
    if (decision === 'exit-now') process.exit(130);
    if (decision === 'same-request') {
      process.stderr.write(
        `gong-bridge: ${signal} while already stopping: the same request (another after ${sameRequestMs / 1000} s exits at once)\n`,
      );
      return;
    }
    controller.abort(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  main(process.argv.slice(2), {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    signal: controller.signal,
  }).then(
    (code) => {
      process.exitCode = code;
      // The command has finished and said so; a library's leftover timer or socket (kafkajs
      // retries after a failed connect did this) must not keep the process alive. The timer is
      // unref'd, so a process that ends by itself is never delayed by it.
      setTimeout(() => process.exit(code), 2_000).unref();
    },
    (error: unknown) => {
      process.stderr.write(
        `gong-bridge: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 70;
    },
  );
}

#!/usr/bin/env node
import { isBridgeError } from '../errors.ts';
import { ExitCode, type CliCommand, type CliIo } from './command.ts';
import { sameRequestMs, stopSignalPolicy } from './stop-signals.ts';

/**
 * Commands load lazily so `gong-bridge check-payload` does not pay for kafkajs, and so each
 * command lives in one file under commands/.
 */
const commands: Record<string, () => Promise<CliCommand>> = {
  // Add one line per command, keep alphabetical.
  'check-payload': async () => (await import('./commands/check-payload.ts')).checkPayloadCommand,
  doctor: async () => (await import('./commands/doctor.ts')).doctorCommand,
  'produce-sample': async () => (await import('./commands/produce-sample.ts')).produceSampleCommand,
  'replay-dlq': async () => (await import('./commands/replay-dlq.ts')).replayDlqCommand,
  run: async () => (await import('./commands/run.ts')).runCommand,
  sandbox: async () => (await import('./commands/sandbox.ts')).sandboxCommand,
  send: async () => (await import('./commands/send.ts')).sendCommand,
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
    "Run `gong-bridge <command> --help` for a command's options and examples.",
    'Settings come from the environment: docs/reference/configuration.md.',
    '',
    'Examples:',
    '  gong-bridge doctor                      check the configuration end to end',
    '  gong-bridge transform events.jsonl      what Gong would receive for Avro-JSON events',
    '  gong-bridge sandbox --access-key k --access-key-secret s',
    '',
    'Exit codes: 0 ok, 1 some input invalid or work failed (doctor: a check failed),',
    '            2 usage error or unreadable input, 3 configuration error, 4 run: Kafka unreachable',
    '            or the consumer crashed, 70 internal error (a bug), 130 interrupted again more',
    '            than 3 s after the first Ctrl-C or SIGTERM (the first stops gracefully).',
  ].join('\n');
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
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
    io.stderr.write(`gong-bridge: unknown command "${name}". Run gong-bridge --help.\n`);
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
    if (isBridgeError(error) && (error.code === 'USAGE' || error.code === 'INPUT_UNREADABLE')) {
      io.stderr.write(`gong-bridge ${name}: ${error.message}\n`);
      return ExitCode.usage;
    }
    if (isBridgeError(error) && error.code === 'CONFIG_INVALID') {
      io.stderr.write(`gong-bridge ${name}: ${error.message}\n`);
      return ExitCode.config;
    }
    throw error;
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

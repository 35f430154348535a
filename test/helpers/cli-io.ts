import { PassThrough } from 'node:stream';
import type { CliIo } from '../../src/cli/command.ts';

/** A CliIo for running a command in-process, with what it writes kept for the test to read. */
export function captureIo(
  env: Record<string, string>,
  options: { cwd?: string; signal?: AbortSignal } = {},
): { io: CliIo; out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const io: CliIo = {
    stdin: new PassThrough(),
    stdout,
    stderr,
    env,
    cwd: options.cwd ?? process.cwd(),
    signal: options.signal ?? new AbortController().signal,
  };
  return { io, out: () => out, err: () => err };
}

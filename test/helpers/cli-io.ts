import { PassThrough } from 'node:stream';
import type { CliIo } from '../../src/cli/command.ts';

/** A command's standard streams in memory, with the environment it sees. */
export function cliIo(env: Record<string, string>) {
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
    cwd: process.cwd(),
    signal: new AbortController().signal,
  };
  return { io, out: () => out, err: () => err };
}

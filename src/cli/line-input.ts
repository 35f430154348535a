import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { BridgeError } from '../errors.ts';
import type { CliIo } from './command.ts';

/**
 * Streams the lines of FILE (or stdin when FILE is absent or "-") without loading the input
 * whole. A file that cannot be opened or read becomes INPUT_UNREADABLE, which the dispatcher
 * turns into exit 2.
 */
export async function* readInputLines(file: string | undefined, io: CliIo): AsyncGenerator<string> {
  let input: NodeJS.ReadableStream = io.stdin;
  let close = async () => {};
  if (file !== undefined && file !== '-') {
    const path = resolve(io.cwd, file);
    try {
      const handle = await open(path, 'r');
      input = handle.createReadStream({ encoding: 'utf8' });
      close = () => handle.close().catch(() => {});
    } catch (cause) {
      throw new BridgeError('INPUT_UNREADABLE', `cannot read ${file}: ${describeError(cause)}`, { cause });
    }
  }
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of lines) yield line;
  } catch (cause) {
    throw new BridgeError('INPUT_UNREADABLE', `cannot read ${file ?? 'stdin'}: ${describeError(cause)}`, {
      cause,
    });
  } finally {
    lines.close();
    await close();
  }
}

export interface LineWriter {
  /** Writes one line; false once the reader has gone away (e.g. `| head`), so the caller stops. */
  write(text: string): Promise<boolean>;
  close(): void;
}

/**
 * Writes lines with backpressure, so a slow reader bounds memory. A closed pipe (EPIPE) is a
 * normal way for `| head` to say "enough", not an internal error.
 */
export function createLineWriter(out: NodeJS.WritableStream): LineWriter {
  let closed = false;
  const onError = (error: NodeJS.ErrnoException) => {
    closed = true;
    if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
  };
  out.on('error', onError);
  return {
    async write(text) {
      if (closed) return false;
      if (!out.write(`${text}\n`)) {
        try {
          await once(out, 'drain');
        } catch {
          closed = true;
        }
      }
      return !closed;
    },
    close() {
      out.off('error', onError);
    },
  };
}

function describeError(cause: unknown): string {
  if (cause instanceof Error) return cause.message;
  return String(cause);
}

import { open, readFile, rename, unlink } from 'node:fs/promises';
import { BridgeError } from '../errors.ts';

/**
 * Which input lines of a `send` run are finished, so `--resume` skips them. A line is finished
 * once it settled (delivered, duplicate, rejected or invalid) and, for the last two, its reject
 * entry is on disk. Lines finish out of order under concurrency, so the file keeps a contiguous
 * watermark (every line <= watermark is finished) plus the few finished lines above it.
 *
 * Losing the latest progress in a crash only means those lines are sent again and come back as
 * 409 duplicates, so the file is rewritten at most every `minIntervalMs`; every write is a
 * temporary file, fsync and rename, so a crash never leaves a torn checkpoint.
 */
export interface CheckpointData {
  readonly version: 1;
  /** The input as given on the command line; a mismatch on resume is refused. */
  readonly input: string;
  readonly watermark: number;
  readonly done: readonly number[];
}

export class LineProgress {
  #watermark: number;
  readonly #above = new Set<number>();

  constructor(watermark = 0, done: Iterable<number> = []) {
    this.#watermark = watermark;
    for (const line of done) this.markDone(line);
  }

  isDone(line: number): boolean {
    return line <= this.#watermark || this.#above.has(line);
  }

  markDone(line: number): void {
    if (line <= this.#watermark) return;
    this.#above.add(line);
    while (this.#above.delete(this.#watermark + 1)) this.#watermark += 1;
  }

  get watermark(): number {
    return this.#watermark;
  }

  toData(input: string): CheckpointData {
    return { version: 1, input, watermark: this.#watermark, done: [...this.#above].sort((a, b) => a - b) };
  }
}

export async function readCheckpoint(path: string): Promise<CheckpointData | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return undefined;
    throw new BridgeError('INPUT_UNREADABLE', `cannot read checkpoint ${path}`, { cause: error });
  }
  try {
    const data = JSON.parse(text) as Partial<CheckpointData>;
    if (
      data.version !== 1 ||
      typeof data.input !== 'string' ||
      !Number.isInteger(data.watermark) ||
      !Array.isArray(data.done) ||
      !data.done.every((line) => Number.isInteger(line))
    ) {
      throw new Error('unexpected shape');
    }
    return data as CheckpointData;
  } catch (cause) {
    throw new BridgeError('INPUT_UNREADABLE', `checkpoint ${path} is not a gong-bridge send checkpoint`, {
      cause,
    });
  }
}

/** Replaces the file atomically: a reader sees the old checkpoint or the new one, never half. */
export async function writeCheckpoint(path: string, data: CheckpointData): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  const handle = await open(temporary, 'w');
  try {
    await handle.writeFile(`${JSON.stringify(data)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => {});
    throw error;
  }
}

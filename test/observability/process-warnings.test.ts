import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { routeProcessWarnings, type WarningSource } from '../../src/observability/process-warnings.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line));
      callback();
    },
  });
  return { lines, logger: pino({ level: 'debug' }, stream) };
}

function warning(name: string, message: string, code?: string): Error {
  const error = new Error(message);
  error.name = name;
  if (code !== undefined) Object.assign(error, { code });
  return error;
}

describe('routeProcessWarnings', () => {
  it('logs warnings as JSON instead of the default printer, and puts the printer back', () => {
    const source = new EventEmitter() as EventEmitter & WarningSource;
    const printed: string[] = [];
    const printer = (w: unknown) => printed.push((w as Error).name);
    source.on('warning', printer);
    const { lines, logger } = capture();

    const restore = routeProcessWarnings(source, logger);
    source.emit('warning', warning('DeprecationWarning', 'Buffer() is deprecated', 'DEP0005'));
    source.emit('warning', warning('TimeoutNegativeWarning', '-3 is a negative number.'));

    expect(printed).toEqual([]);
    expect(lines.map((l) => [l.level, l.event, (l.warning as { name: string }).name])).toEqual([
      [40, 'process-warning', 'DeprecationWarning'],
      // kafkajs' negative timer is known and harmless: debug, not warn.
      [20, 'process-warning', 'TimeoutNegativeWarning'],
    ]);
    expect(lines[0]).toMatchObject({ component: 'process', warning: { code: 'DEP0005' } });

    restore();
    source.emit('warning', warning('Warning', 'after'));
    expect(printed).toEqual(['Warning']);
    expect(lines).toHaveLength(2);
  });

  it('catches the negative timer warning Node 24 raises for real', async () => {
    const { lines, logger } = capture();
    const restore = routeProcessWarnings(process as unknown as WarningSource, logger);
    try {
      setTimeout(() => undefined, -1);
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      restore();
    }
    expect(
      lines.some((l) => (l.warning as { name?: string } | undefined)?.name === 'TimeoutNegativeWarning'),
    ).toBe(true);
  });
});

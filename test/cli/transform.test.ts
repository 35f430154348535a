import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { validateGongBody } from '../../src/gong/validate.ts';
import { repoRoot, runCli } from './run-cli.ts';

const event = {
  eventId: 'e1',
  timestamp: 1_738_324_800_000,
  eventType: 'page viewed',
  content: { contentTitle: 'Pricing' },
  trackingId: { string: 'trk-1' },
};

describe('gong-bridge transform', () => {
  it('turns every valid Avro-JSON event into a body that passes validation, exit 0', async () => {
    const run = await runCli(['transform', 'test/fixtures/avro-events.valid.jsonl']);
    const count = readFileSync(`${repoRoot}test/fixtures/avro-events.valid.jsonl`, 'utf8')
      .trim()
      .split('\n').length;
    expect(run.code).toBe(0);
    expect(run.lines).toHaveLength(count);
    run.lines.forEach((line, index) => {
      expect(line).toMatchObject({ line: index + 1, ok: true });
      expect(validateGongBody(line.body).ok).toBe(true);
    });
  });

  it('produces exactly the bodies in the valid Gong fixture', async () => {
    const run = await runCli(['transform', 'test/fixtures/avro-events.valid.jsonl']);
    const expected = readFileSync(`${repoRoot}test/fixtures/gong-bodies.valid.jsonl`, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as unknown);
    expect(run.lines.map((line) => line.body)).toEqual(expected);
  });

  it('rejects Gong-invalid events with path errors, exit 1', async () => {
    const run = await runCli(['transform', 'test/fixtures/avro-events.gong-invalid.jsonl']);
    expect(run.code).toBe(1);
    expect(run.lines.length).toBeGreaterThan(0);
    for (const line of run.lines) {
      expect(line.ok).toBe(false);
      expect((line.errors as string[])[0]).toMatch(/^(content|person|trackingId)[\w.[\]]*: /);
      expect(line.warnings).toBeUndefined();
    }
  });

  it('makes bodies of events that break only undocumented rules, with warnings naming them, exit 0', async () => {
    const fixture = 'test/fixtures/avro-events.inferred.jsonl';
    const run = await runCli(['transform', fixture], undefined, {});
    expect(run.code).toBe(0);
    expect(run.lines.length).toBeGreaterThan(0);
    for (const line of run.lines) {
      expect(line).toMatchObject({ ok: true, body: expect.any(Object), inferredRules: [expect.any(String)] });
      expect((line.warnings as string[])[0]).toMatch(/ \[inferred rule [a-z-]+\]$/);
    }
    const rejecting = await runCli(['transform', fixture, '--inferred-rules', 'reject'], undefined, {});
    expect(rejecting.code).toBe(1);
    expect(rejecting.lines.every((line) => line.ok === false && line.body === undefined)).toBe(true);
  });

  it('reads stdin, keeps blank-line numbering and reports schema mismatches by path', async () => {
    const input = [
      JSON.stringify(event),
      '',
      JSON.stringify({ ...event, trackingId: 'unwrapped' }),
      'garbage',
      JSON.stringify({ ...event, timestamp: 253_402_300_800_000 }),
    ].join('\n');
    const run = await runCli(['transform'], `${input}\n`);
    expect(run.code).toBe(1);
    expect(run.lines).toEqual([
      {
        line: 1,
        ok: true,
        body: {
          eventId: 'e1',
          timestamp: '2025-01-31T12:00:00.000Z',
          eventType: 'page viewed',
          content: { contentTitle: 'Pricing' },
          trackingId: 'trk-1',
        },
      },
      {
        line: 3,
        ok: false,
        errors: [expect.stringMatching(/^trackingId: expected a union value wrapped as/)],
      },
      { line: 4, ok: false, errors: [expect.stringMatching(/^\(root\): not valid JSON: /)] },
      {
        line: 5,
        ok: false,
        errors: ['timestamp: must be epoch milliseconds within years 0000-9999, got 253402300800000'],
      },
    ]);
  });

  it('reads events written with an older schema given by --schema', async () => {
    const run = await runCli([
      'transform',
      '--schema',
      'schemas/interaction-event.v1.avsc',
      'test/fixtures/avro-events.v1.jsonl',
    ]);
    expect(run.code).toBe(0);
    expect(run.lines.length).toBeGreaterThan(0);
    expect(run.lines.every((line) => line.ok === true)).toBe(true);
  });

  it.each([
    ['a missing input file', ['transform', 'nope.jsonl'], /cannot read nope\.jsonl/],
    ['a missing schema file', ['transform', '--schema', 'nope.avsc'], /cannot use schema nope\.avsc/],
    [
      'a schema that is not Avro',
      ['transform', '--schema', 'package.json'],
      /cannot use schema package\.json/,
    ],
    ['--schema without a value', ['transform', '--schema'], /argument missing|requires|value/i],
    ['an unknown flag', ['transform', '--fast'], /unknown option --fast \(see --help\)/],
  ])('exits 2 on %s', async (_label, args, message) => {
    const run = await runCli(args);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(message);
  });

  it('prints help with examples', async () => {
    const run = await runCli(['transform', '-h']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: gong-bridge transform \[FILE\] \[--schema PATH\]/);
    expect(run.stdout).toMatch(/Examples:/);
  });
});

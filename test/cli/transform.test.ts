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

describe('gong-bridge transform --mapping', () => {
  const fixtures = 'test/fixtures/mappings';
  const mapping = ['--mapping', `${fixtures}/mappings.yaml`];
  const bodies = (file: string) =>
    readFileSync(`${repoRoot}${fixtures}/${file}`, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as unknown);

  it.each([
    ['page-view', 'web.page-views', 'web-page-view'],
    ['signup', 'product.signups', 'product-signup'],
    ['video-progress', 'media.video-progress', 'video-progress'],
  ])(
    'shows the bodies Gong receives for the %s samples, read with the schema: file of the mapping for %s',
    async (name, topic, mappingName) => {
      const run = await runCli(
        ['transform', `${fixtures}/${name}.events.jsonl`, ...mapping, '--topic', topic],
        undefined,
        {},
      );
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.lines.map((line) => line.body)).toEqual(bodies(`${name}.bodies.jsonl`));
      expect(run.lines.every((line) => line.ok === true && line.mapping === mappingName)).toBe(true);
    },
  );

  it('reads the lines with an explicit --schema, in the format INPUT_FORMATS gives the topic', async () => {
    const run = await runCli(
      [
        'transform',
        ...mapping,
        '--topic',
        'media.video-progress',
        '--schema',
        `${fixtures}/video-progress.proto`,
      ],
      `${readFileSync(`${repoRoot}${fixtures}/video-progress.events.jsonl`, 'utf8')}`,
      { INPUT_FORMATS: 'media.video-progress:protobuf,avro' },
    );
    expect(run.code).toBe(0);
    expect(run.lines.map((line) => line.body)).toEqual(bodies('video-progress.bodies.jsonl'));
  });

  it('names the reason a line would be dead-lettered, the mapping and its errors, exit 1', async () => {
    const lines = [
      '{"signupId":"su-1","createdAt":"yesterday","plan":"team"}',
      '{"signupId":"su-2","createdAt":"2026-01-05T10:02:13Z","plan":"a-plan-name-far-too-long-for-a-title"}',
      'not json',
    ].join('\n');
    const run = await runCli(['transform', ...mapping, '--topic', 'product.signups'], lines, {
      GONG_MAX_STRING_LENGTH: '32',
    });
    expect(run.code).toBe(1);
    expect(run.lines).toEqual([
      {
        line: 1,
        ok: false,
        reason: 'MAPPING_FAILED',
        mapping: 'product-signup',
        errors: [expect.stringMatching(/^timestamp: \$timestamp: cannot read "yesterday"/)],
      },
      {
        line: 2,
        ok: false,
        reason: 'GONG_INVALID',
        mapping: 'product-signup',
        errors: expect.arrayContaining([
          'content.contentTitle: must be at most 32 characters (GONG_MAX_STRING_LENGTH)',
        ]),
      },
      {
        line: 3,
        ok: false,
        reason: 'JSON_DECODE_FAILED',
        errors: [expect.stringMatching(/^the payload is not JSON/)],
      },
    ]);
  });

  it('says which topics no mapping takes', async () => {
    const run = await runCli(
      ['transform', ...mapping, '--topic', 'web.clicks', '--format', 'json'],
      '{"a":1}',
      {},
    );
    expect(run.code).toBe(1);
    expect(run.lines[0]).toMatchObject({
      ok: false,
      reason: 'NO_MAPPING',
      errors: [
        expect.stringContaining(
          'record (unnamed) on topic web.clicks is not a canonical event and no mapping in',
        ),
      ],
    });
  });

  it.each([
    ['--topic without --mapping', ['transform', '--topic', 't'], 2, /--topic needs --mapping/],
    ['--mapping without --topic', ['transform', ...mapping], 2, /--mapping needs --topic T/],
    [
      'an unknown --format',
      ['transform', ...mapping, '--topic', 't', '--format', 'xml'],
      2,
      /--format must be one of avro, json-schema, protobuf, json/,
    ],
    [
      '--schema with --registry',
      ['transform', ...mapping, '--topic', 't', '--schema', 'x.avsc', '--registry'],
      2,
      /alternatives/,
    ],
    [
      'Avro lines without any schema',
      ['transform', ...mapping, '--topic', 'web.clicks'],
      2,
      /topic web\.clicks is read as avro: give the writer schema/,
    ],
    [
      'a mapping file that does not load',
      ['transform', '--mapping', 'package.json', '--topic', 't'],
      3,
      /MAPPINGS_FILE .*package\.json has/,
    ],
  ])('refuses %s', async (_label, args, code, message) => {
    const run = await runCli(args, '', {});
    expect(run.code).toBe(code);
    expect(run.stderr).toMatch(message);
  });
});

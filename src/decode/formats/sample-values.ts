import { seededRandom } from '../../sandbox/random.ts';

/**
 * Plausible values for events generated from a writer schema (`Writer.samples`, used by doctor to
 * run a mapping over records it has never seen). What matters is which fields are present, so the
 * values only need to be of the right type and not trip a helper for no reason: a text field named
 * like a time holds an ISO timestamp, a long holds an epoch-milliseconds time near now.
 */

/** How optional parts are filled: all of them, none, or a coin toss each. */
export type SampleFill = 'full' | 'sparse' | 'mixed';

export interface SampleContext {
  readonly fill: SampleFill;
  /** Deterministic per sample, so a doctor run can be repeated. */
  readonly random: () => number;
  /** Sample number, to tell generated values apart. */
  readonly index: number;
}

/** The fill of sample `index`: full first, sparse second, mixed after. */
export function sampleContext(index: number): SampleContext {
  return {
    fill: index === 0 ? 'full' : index === 1 ? 'sparse' : 'mixed',
    random: seededRandom(index + 1),
    index,
  };
}

/** Whether an optional part is present in this sample. */
export function present(context: SampleContext): boolean {
  if (context.fill === 'full') return true;
  if (context.fill === 'sparse') return false;
  return context.random() < 0.5;
}

/** How many items a list or map gets: 2 when full, 0 when sparse, 0..2 when mixed. */
export function itemCount(context: SampleContext): number {
  if (context.fill === 'full') return 2;
  if (context.fill === 'sparse') return 0;
  return Math.floor(context.random() * 3);
}

export function pick<T>(context: SampleContext, choices: readonly T[]): T | undefined {
  if (choices.length === 0) return undefined;
  return choices[Math.floor(context.random() * choices.length) % choices.length];
}

/** 2026-01-01T00:00:00Z plus a little per sample. */
const baseTimeMs = 1_767_225_600_000;

export function sampleTimeMs(context: SampleContext): number {
  return baseTimeMs + context.index * 60_000 + Math.floor(context.random() * 1000);
}

const timeName = /(?:time|date|At$|_at$|Ts$|_ts$)/i;

/** Text for a field called `name`. */
export function sampleText(name: string, context: SampleContext, format?: string): string {
  if (format === 'date-time' || (format === undefined && timeName.test(name)))
    return new Date(sampleTimeMs(context)).toISOString();
  if (format === 'date') return new Date(sampleTimeMs(context)).toISOString().slice(0, 10);
  if (format === 'email' || /e-?mail/i.test(name)) return `person${context.index}@example.com`;
  if (format === 'uri' || format === 'url' || /url|link|href/i.test(name))
    return `https://example.com/${name}/${context.index}`;
  if (format === 'uuid') return `00000000-0000-4000-8000-${String(context.index).padStart(12, '0')}`;
  return `${name || 'text'}-${context.index}`;
}

/** A small whole number, or an epoch-ms time near now for 64-bit integers. */
export function sampleInteger(context: SampleContext, wide: boolean): number {
  return wide ? sampleTimeMs(context) : 1 + Math.floor(context.random() * 100);
}

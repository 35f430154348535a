/**
 * A reader for the Prometheus text exposition format (version 0.0.4), enough for `gong-bridge
 * status` to read a replica's /metrics: comments and HELP/TYPE lines are skipped, label values
 * are unescaped, and +Inf, -Inf and NaN are numbers. Timestamps, when present, are ignored.
 */

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const namePattern = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const sample = parseLine(line);
    if (sample !== undefined) samples.push(sample);
  }
  return samples;
}

function parseLine(line: string): Sample | undefined {
  const name = namePattern.exec(line)?.[0];
  if (name === undefined) return undefined;
  let rest = line.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith('{')) {
    const end = readLabels(rest, labels);
    if (end === undefined) return undefined;
    rest = rest.slice(end);
  }
  const valueText = rest.trim().split(/\s+/)[0] ?? '';
  const value = parseValue(valueText);
  return value === undefined ? undefined : { name, labels, value };
}

/** Fills `labels` from `{a="x",b="y"}` at the start of `text`; returns the index after `}`. */
function readLabels(text: string, labels: Record<string, string>): number | undefined {
  let i = 1;
  while (i < text.length) {
    while (text[i] === ' ' || text[i] === ',') i++;
    if (text[i] === '}') return i + 1;
    const key = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(text.slice(i))?.[0];
    if (key === undefined) return undefined;
    i += key.length;
    while (text[i] === ' ') i++;
    if (text[i] !== '=' || text[i + 1] !== '"') return undefined;
    i += 2;
    let value = '';
    for (; i < text.length && text[i] !== '"'; i++) {
      if (text[i] === '\\') {
        i++;
        value += text[i] === 'n' ? '\n' : (text[i] ?? '');
      } else value += text[i];
    }
    if (text[i] !== '"') return undefined;
    labels[key] = value;
    i++;
  }
  return undefined;
}

function parseValue(text: string): number | undefined {
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  if (text === '') return undefined;
  const value = Number(text);
  return Number.isNaN(value) ? undefined : value;
}

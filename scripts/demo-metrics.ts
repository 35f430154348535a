// Small readers shared by the demo's progress and summary scripts.

/** Sums every sample of a metric whose labels contain `labelFilter` (Prometheus text format). */
export function sumMetric(text: string, name: string, labelFilter = ''): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (labelFilter !== '' && !rest.includes(labelFilter)) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) total += value;
  }
  return total;
}

/** Values of one label across a metric's samples, e.g. every DLQ reason seen. */
export function labelValues(text: string, name: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  const pattern = new RegExp(`^${name}\\{[^}]*${label}="([^"]*)"[^}]*\\} (\\S+)`);
  for (const line of text.split('\n')) {
    const match = pattern.exec(line);
    if (match?.[1] !== undefined) out.set(match[1], (out.get(match[1]) ?? 0) + Number(match[2]));
  }
  return out;
}

export interface SandboxStats {
  accepted: number;
  duplicates: number;
  calls: number;
  byStatus: Record<string, number>;
  peakCallsPerRollingSecond: number;
}

export async function fetchText(url: string): Promise<string | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return response.ok ? await response.text() : undefined;
  } catch {
    return undefined;
  }
}

export async function sandboxStats(base: string): Promise<SandboxStats> {
  const text = await fetchText(`${base}/_sandbox/stats`);
  return text
    ? (JSON.parse(text) as SandboxStats)
    : { accepted: 0, duplicates: 0, calls: 0, byStatus: {}, peakCallsPerRollingSecond: 0 };
}

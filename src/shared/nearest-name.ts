/**
 * "Did you mean" for misspelt names: settings (KAFKA_BROKER → KAFKA_BROKERS) and commands
 * (runn → run). Distance is Damerau-Levenshtein in its optimal-string-alignment form, so a swapped
 * pair of letters costs one edit, as it does to the person who typed it.
 */

export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidate closest to `input`, or undefined when none is close enough to be a plausible
 * typo: at most a third of the input's length in edits (at least one, at most four), so short
 * names only match near-identical ones. Case is ignored; ties go to the earlier candidate.
 */
export function nearestName(input: string, candidates: readonly string[]): string | undefined {
  const wanted = input.toUpperCase();
  const limit = Math.min(4, Math.max(1, Math.floor(wanted.length / 3)));
  let best: { name: string; distance: number } | undefined;
  for (const name of candidates) {
    const distance = editDistance(wanted, name.toUpperCase());
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

/**
 * What a SIGINT or SIGTERM means to a running command. The first asks it to stop gracefully (`run`
 * drains in-flight calls and commits). A Ctrl-C in a terminal reaches every process of the
 * foreground process group at once, and a wrapper script (make demo, an entrypoint) usually
 * forwards its own SIGTERM a moment later: those repeats are the same request, so signals within
 * `sameRequestMs` of the first are ignored rather than taken as "give up on the drain". Only a
 * signal after that window exits at once (130), which is safe because nothing past the last
 * settled record was ever committed.
 */
export type StopDecision = 'stop' | 'same-request' | 'exit-now';

/** How long after the first signal another one is the same request; a person's "again" comes later. */
export const sameRequestMs = 3_000;

export function stopSignalPolicy(now: () => number, windowMs = sameRequestMs): () => StopDecision {
  let first: number | undefined;
  return () => {
    const at = now();
    if (first === undefined) {
      first = at;
      return 'stop';
    }
    return at - first < windowMs ? 'same-request' : 'exit-now';
  };
}

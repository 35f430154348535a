import { BridgeError } from '../../src/errors.ts';

/** The BridgeError that `run` throws; fails the test when it throws nothing or something else. */
export function configError(run: () => unknown): BridgeError {
  try {
    run();
  } catch (error) {
    if (error instanceof BridgeError) return error;
    throw error;
  }
  throw new Error('expected a configuration error');
}

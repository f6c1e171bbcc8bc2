import {
  compareResults,
  coreFactory,
  defineConformanceSuite,
  type ReplayBackend,
  randomCases,
  replayCase,
  typedArrayReplayBackend,
  wrapperCaseOptimizers,
} from '@schedulefree/conformance';
import { typedArrayFactory } from '@schedulefree/wrapper';
import { describe, expect, it } from 'vitest';

/** The float64 core with the wrapper classes: what every tfjs backend is compared against. */
export const reference = typedArrayReplayBackend('core-f64', 'float64', 'fused', [
  coreFactory,
  typedArrayFactory,
]);

/**
 * The conformance suite for a tfjs backend: every golden case, random cases of the nine classes,
 * invariants and errors, and the bad-input matrix (unless `badInputMatrix` is false); then random wrapper cases (tf optimizers as bases where tfjs has them).
 */
export function defineTfjsConformance(
  backend: ReplayBackend,
  random = 27,
  randomWrappers = 10,
  badInputMatrix = true,
): void {
  defineConformanceSuite(backend, { describe, it }, { reference, randomCases: random, badInputMatrix });
  describe(`conformance: ${backend.name}, random wrapper cases against core-f64`, () => {
    for (const spec of randomCases(randomWrappers, 1, wrapperCaseOptimizers)) {
      it(spec.name, async () => {
        const want = await replayCase(reference, spec);
        expect(want.error).toBeUndefined();
        const got = await replayCase(backend, spec);
        const deviation = compareResults(got, want, backend.dtype);
        expect(deviation.ok, deviation.where).toBe(true);
      });
    }
  });
}

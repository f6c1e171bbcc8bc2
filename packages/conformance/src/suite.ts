import type { HostRecord, ReplayBackend, ReplaySubject } from './backend.js';
import { tolerances } from './backend.js';
import { type CaseSpec, flattenRecord, goldenCases, missingFeatures } from './cases.js';
import { compareResults, compareToExpected } from './compare.js';
import { defineBadInputMatrix } from './matrix.js';
import { optimizersFor, randomCases } from './random.js';
import { replayCase, stepGrads, toHost } from './replay.js';

/** The subset of a test runner's API the suite needs (vitest, jest and mocha all fit). */
export interface TestApi {
  describe(name: string, fn: () => void): void;
  it: ((name: string, fn: () => Promise<void> | void, timeout?: number) => void) & {
    skip?: (name: string, fn: () => void) => void;
  };
}

export interface SuiteOptions {
  /** Backend to compare random cases against (default: none, random cases are skipped). */
  reference?: ReplayBackend;
  /** Number of random differential cases (default: three per class). */
  randomCases?: number;
  /** Classes the random cases are drawn from (default: the nine core classes). */
  randomOptimizers?: readonly string[];
  /** Golden cases to skip, by name, with the reason printed in the test name. */
  skip?: Record<string, string>;
  /**
   * Run the bad-input matrix (see `defineBadInputMatrix`). Default: for backends that declare their
   * `features` (written against this version of the suite, whose subjects pass malformed input through).
   */
  badInputMatrix?: boolean;
  /** Per-test timeout in ms. */
  timeout?: number;
}

function fail(message: string): never {
  throw new Error(message);
}

function assertClose(
  got: HostRecord,
  want: HostRecord,
  dtype: 'float32' | 'float64',
  what: string,
  exact = false,
): void {
  const { rtol, atol } = exact ? { rtol: 0, atol: 0 } : tolerances[dtype];
  for (const [name, expected] of Object.entries(want)) {
    const actual = got[name] ?? fail(`${what}: parameter "${name}" is missing`);
    if (actual.length !== expected.length)
      fail(`${what}: "${name}" has ${actual.length} elements, expected ${expected.length}`);
    expected.forEach((b, i) => {
      const a = actual[i];
      if (!(Math.abs(a - b) <= atol + rtol * Math.abs(b)) && !(exact && Object.is(a, b))) {
        fail(`${what}: ${name}[${i}] = ${a}, expected ${b} (|diff| ${Math.abs(a - b)})`);
      }
    });
  }
}

async function expectThrow(fn: () => unknown, pattern: RegExp, what: string): Promise<void> {
  try {
    await fn();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (!pattern.test(message)) fail(`${what}: threw "${message}", which does not match ${pattern}`);
    return;
  }
  fail(`${what}: expected an error matching ${pattern}, but nothing was thrown`);
}

/** The values as stored in a buffer of the given precision. */
function stored(record: HostRecord, dtype: 'float32' | 'float64'): HostRecord {
  if (dtype === 'float64') return record;
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, v.map(Math.fround)]));
}

const firstGrads = (spec: CaseSpec, step = 0) => stepGrads(spec.steps[step]) as HostRecord;
const caseNamed = (name: string) =>
  goldenCases.find((c) => c.name === name) ?? fail(`no golden case ${name}`);

/** Runs `body` on a fresh subject of a case and always disposes it. */
async function withSubject(
  backend: ReplayBackend,
  spec: CaseSpec,
  body: (s: ReplaySubject) => Promise<void>,
): Promise<void> {
  const subject = await backend.create(spec);
  try {
    await body(subject);
  } finally {
    await subject.dispose();
  }
}

/**
 * Registers the conformance suite for one backend with a test runner:
 * golden trajectories, random differential cases, invariants and error behaviour.
 * Call it from the backend's own test file, e.g.
 * `defineConformanceSuite(myBackend, { describe, it }, { reference: coreF64 })`.
 */
export function defineConformanceSuite(
  backend: ReplayBackend,
  api: TestApi,
  options: SuiteOptions = {},
): void {
  const { describe, it } = api;
  const timeout = options.timeout ?? 30_000;
  const dtype = backend.dtype;

  describe(`conformance: ${backend.name}`, () => {
    describe('golden trajectories', () => {
      for (const spec of goldenCases) {
        const reason = options.skip?.[spec.name] ?? missingFeatures(spec, backend.features);
        if (reason) {
          it.skip?.(`${spec.name} (${reason})`, () => {});
          continue;
        }
        it(
          spec.name,
          async () => {
            const result = await replayCase(backend, spec);
            const deviation = compareToExpected(result, spec, dtype);
            if (!deviation.ok) fail(`${spec.name} deviates from the float64 reference: ${deviation.where}`);
          },
          timeout,
        );
      }
    });

    const reference = options.reference;
    const count = options.randomCases ?? 3 * (options.randomOptimizers ?? optimizersFor(backend)).length;
    if (reference && count > 0) {
      describe(`random differential cases against ${reference.name}`, () => {
        const frozen = backend.features?.includes('frozen-params') === true;
        const optimizers = options.randomOptimizers ?? optimizersFor(backend);
        for (const spec of randomCases(count, 1, optimizers, { frozen })) {
          it(
            spec.name,
            async () => {
              const [got, want] = [await replayCase(backend, spec), await replayCase(reference, spec)];
              if (want.error) fail(`reference failed: ${want.error}`);
              const deviation = compareResults(got, want, dtype);
              if (!deviation.ok) fail(`${spec.name}: ${deviation.where}`);
            },
            timeout,
          );
        }
      });
    }

    describe('invariants', () => {
      it('after the first step x = y = z', async () => {
        for (const name of ['sgd-warmup-wd', 'adamw-warmup-wd', 'adamw-reference', 'adamw-paper']) {
          await withSubject(backend, caseNamed(name), async (s) => {
            await s.train();
            await s.step(firstGrads(caseNamed(name)));
            assertClose(await s.evalParams(), await s.params(), dtype, `${name}: x vs y after step 1`);
          });
        }
      });

      it('lr = 0 moves nothing', async () => {
        for (const name of [
          'sgd-default',
          'adamw-default',
          'adamw-reference',
          'sgd-closure',
          'radam-no-silent',
        ]) {
          const base = caseNamed(name);
          const spec = { ...base, options: { ...base.options, lr: 0 }, groups: undefined };
          await withSubject(backend, spec, async (s) => {
            await s.train();
            for (let i = 0; i < 3; i++) await s.step(firstGrads(spec, i));
            assertClose(
              await s.params(),
              stored(toHost(flattenRecord(spec.params)), dtype),
              dtype,
              `${name} with lr 0`,
              true,
            );
          });
        }
      });

      it('train → eval → train returns y within rounding', async () => {
        for (const name of ['sgd-warmup-wd', 'adamw-inner-momentum', 'adamw-reference', 'radam-default']) {
          const spec = caseNamed(name);
          await withSubject(backend, spec, async (s) => {
            await s.train();
            for (const step of spec.steps) await s.step(stepGrads(step), step.loss);
            const y = await s.params();
            const x = await s.evalParams();
            await s.eval();
            assertClose(await s.params(), x, dtype, `${name}: eval() gives evalParams()`);
            await s.train();
            assertClose(await s.params(), y, dtype, `${name}: y after a train/eval round trip`);
          });
        }
      });

      it('fused, reference and closure forms agree', async () => {
        const groups: Array<[string[], Record<string, unknown>]> = [
          [
            ['SGDScheduleFree', 'SGDScheduleFreeReference', 'SGDScheduleFreeClosure'],
            { lr: 0.5, weightDecay: 0.05, warmupSteps: 2 },
          ],
          [
            ['AdamWScheduleFree', 'AdamWScheduleFreeReference', 'AdamWScheduleFreeClosure'],
            { lr: 0.05, weightDecay: 0.1, warmupSteps: 2 },
          ],
          [['AdamWScheduleFree', 'AdamWScheduleFreeReference'], { lr: 0.05, innerMomentum: 0.8 }],
          [['RAdamScheduleFree', 'RAdamScheduleFreeClosure'], { lr: 0.05, silentSgdPhase: false }],
        ];
        const base = caseNamed('adamw-default');
        for (const [classes, opts] of groups) {
          const xs: HostRecord[][] = [];
          for (const optimizer of classes) {
            const spec = { ...base, optimizer, options: opts };
            const trajectory: HostRecord[] = [];
            await withSubject(backend, spec, async (s) => {
              await s.train();
              for (const step of spec.steps) {
                await s.step(stepGrads(step), step.loss);
                trajectory.push(await s.evalParams());
              }
            });
            xs.push(trajectory);
          }
          for (const [j, traj] of xs.slice(1).entries()) {
            for (const [i, x] of traj.entries()) {
              assertClose(x, xs[0][i], dtype, `${classes[j + 1]} vs ${classes[0]}, x after step ${i + 1}`);
            }
          }
        }
      });
    });

    describe('errors leave everything unchanged', () => {
      const spec = caseNamed('adamw-warmup-wd');
      const grads = (i: number) => firstGrads(spec, i);
      const names = Object.keys(spec.params);

      /** Runs the case with a failing call injected before step `at`; the trajectory must be unaffected. */
      const injected = (
        label: string,
        at: number,
        bad: (s: ReplaySubject) => Promise<void>,
        pattern: RegExp,
      ) =>
        it(label, async () => {
          await withSubject(backend, spec, async (s) => {
            await s.train();
            for (let i = 0; i < spec.steps.length; i++) {
              if (i === at) await expectThrow(() => bad(s), pattern, label);
              await s.step(grads(i));
              const y = flattenRecord(spec.steps[i].y!);
              assertClose(await s.params(), toHost(y), dtype, `${label}: y after step ${i + 1}`);
            }
          });
        });

      injected(
        'unknown gradient name',
        2,
        (s) => Promise.resolve(s.step({ ...grads(2), notAParam: new Float64Array(1) })),
        /notAParam/,
      );
      injected(
        'missing gradient',
        2,
        (s) => {
          const g = grads(2);
          delete g[names[0]];
          return Promise.resolve(s.step(g));
        },
        new RegExp(names[0]),
      );
      injected(
        'gradient of the wrong size',
        1,
        (s) => Promise.resolve(s.step({ ...grads(1), [names[0]]: new Float64Array(1) })),
        /element|size|length/i,
      );
      injected(
        'NaN gradient',
        3,
        (s) => {
          const g = grads(3);
          g[names[names.length - 1]][0] = Number.NaN;
          return Promise.resolve(s.step(g));
        },
        /NaN|finite/i,
      );
      injected(
        'Infinity gradient',
        0,
        (s) => {
          const g = grads(0);
          g[names[0]][0] = Number.POSITIVE_INFINITY;
          return Promise.resolve(s.step(g));
        },
        /NaN|Infinity|finite/i,
      );

      it('step in eval mode says to call train()', async () => {
        await withSubject(backend, spec, async (s) => {
          await expectThrow(() => s.step(grads(0)), /train\(\)/, 'step before train()');
          assertClose(
            await s.params(),
            stored(toHost(flattenRecord(spec.params)), dtype),
            dtype,
            'params after the refused step',
            true,
          );
        });
      });

      it('invalid hyperparameters are rejected by name', async () => {
        const bad: Array<[Record<string, unknown>, RegExp]> = [
          [{ lr: -1 }, /"lr"/],
          [{ betas: [1.5, 0.999] }, /betas\[0\]/],
          [{ betas: [0.9, 1] }, /betas\[1\]/],
          [{ eps: 0 }, /"eps"/],
          [{ warmupSteps: -2 }, /"warmupSteps"/],
          [{ weightDecay: -0.1 }, /"weightDecay"/],
          [{ lerningRate: 0.1 }, /lerningRate/],
        ];
        for (const [options, pattern] of bad) {
          await expectThrow(
            async () => {
              const s = await backend.create({ ...spec, options: { ...spec.options, ...options } });
              await s.dispose();
            },
            pattern,
            `options ${JSON.stringify(options)}`,
          );
        }
      });

      it('use after dispose is an error', async () => {
        // (The bad-input matrix below covers every class, option, record and state.)
        const s = await backend.create(spec);
        await s.train();
        await s.dispose();
        await expectThrow(() => s.step(grads(0)), /dispose/, 'step after dispose');
      });
    });

    if (options.badInputMatrix ?? backend.features !== undefined) defineBadInputMatrix(backend, api, timeout);
  });
}

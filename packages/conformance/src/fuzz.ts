import type { HostRecord, ReplayBackend, ReplaySubject } from './backend.js';
import { tolerances } from './backend.js';
import type { CaseSpec } from './cases.js';
import { missingFeatures } from './cases.js';
import { optimizersFor, randomCase, rng } from './random.js';
import { stepGrads } from './replay.js';

/**
 * Differential fuzzing: random classes and options (in their valid ranges), random sizes and
 * gradients, parameters without gradients and ScheduleFree+ where the backend declares them, and,
 * between steps, random train/eval round trips, `evalParams` reads and state-dict round trips through
 * JSON. After every action the backend's parameters are compared with the float64 reference's.
 */

/** One action of a fuzz run. */
type Action =
  | { kind: 'step'; index: number }
  | { kind: 'mode-round-trip' }
  | { kind: 'eval-params' }
  | { kind: 'state-round-trip' };

/** A fuzz case: a random case and the actions interleaved with its steps. */
export interface FuzzCase {
  readonly spec: CaseSpec;
  readonly actions: readonly Action[];
}

/** The `n`-th fuzz case of a seed, for a backend's features. */
export function fuzzCase(seed: number, n: number, backend: Pick<ReplayBackend, 'features'>): FuzzCase {
  const random = rng(seed * 1_000_003 + n);
  const optimizers = optimizersFor(backend);
  const optimizer = optimizers[Math.floor(random() * optimizers.length)];
  const frozen = backend.features?.includes('frozen-params') === true && random() < 0.3;
  const spec = randomCase(seed * 100_003 + n, optimizer, { frozen });
  const closure = optimizer.endsWith('Closure');
  const actions: Action[] = [];
  spec.steps.forEach((_, index) => {
    actions.push({ kind: 'step', index });
    const r = random();
    if (r < 0.2 && !closure) actions.push({ kind: 'mode-round-trip' });
    else if (r < 0.4) actions.push({ kind: 'eval-params' });
    else if (r < 0.55) actions.push({ kind: 'state-round-trip' });
  });
  return { spec: { ...spec, name: `fuzz-${seed}-${n}-${spec.name}` }, actions };
}

/** The worst deviation of one fuzz case, or the error that ended it. */
export interface FuzzResult {
  readonly name: string;
  /** max |a − b| / (1 + |b|) over every compared element. */
  readonly worst: number;
  readonly where: string;
  readonly ok: boolean;
  readonly error?: string;
}

async function observe(s: ReplaySubject, kind: 'params' | 'evalParams'): Promise<HostRecord> {
  return kind === 'params' ? s.params() : s.evalParams();
}

/** Runs one fuzz case on a backend and on the reference, action by action. */
export async function runFuzzCase(
  backend: ReplayBackend,
  reference: ReplayBackend,
  fuzz: FuzzCase,
): Promise<FuzzResult> {
  const { spec, actions } = fuzz;
  const { rtol, atol } = tolerances[backend.dtype];
  let worst = 0;
  let where = '';
  let ok = true;
  const compare = (label: string, got: HostRecord, want: HostRecord) => {
    for (const [name, b] of Object.entries(want)) {
      const a = got[name];
      b.forEach((bi, i) => {
        const diff = Math.abs((a?.[i] ?? Number.NaN) - bi);
        const relative = diff / (1 + Math.abs(bi));
        if (!(diff <= atol + rtol * Math.abs(bi))) ok = false;
        if (!(relative <= worst)) {
          worst = Number.isNaN(relative) ? Number.POSITIVE_INFINITY : relative;
          where = `${label} ${name}[${i}]: got ${a?.[i]}, expected ${bi}`;
        }
      });
    }
  };
  const unsupported = missingFeatures(spec, backend.features) ?? backend.supports?.(spec);
  if (unsupported)
    return { name: spec.name, worst: 0, where: '', ok: true, error: `skipped: ${unsupported}` };
  let subjects: ReplaySubject[] = [];
  try {
    subjects = [await backend.create(spec), await reference.create(spec)];
    for (const s of subjects) await s.train();
    for (const action of actions) {
      const label = action.kind === 'step' ? `after step ${action.index + 1}` : `after ${action.kind}`;
      for (const s of subjects) {
        if (action.kind === 'step')
          await s.step(stepGrads(spec.steps[action.index]), spec.steps[action.index].loss);
        else if (action.kind === 'mode-round-trip') {
          await s.eval();
          await s.train();
        } else if (action.kind === 'state-round-trip' && s.stateDict && s.loadStateDict) {
          await s.loadStateDict(JSON.parse(JSON.stringify(await s.stateDict())));
        }
      }
      const kind = action.kind === 'eval-params' ? 'evalParams' : 'params';
      const [got, want] = [await observe(subjects[0], kind), await observe(subjects[1], kind)];
      compare(`${label} (${kind})`, got, want);
    }
    for (const s of subjects) await s.eval();
    compare('after eval()', await subjects[0].params(), await subjects[1].params());
  } catch (error) {
    return {
      name: spec.name,
      worst: Number.POSITIVE_INFINITY,
      where,
      ok: false,
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    };
  } finally {
    for (const s of subjects) await s.dispose();
  }
  return { name: spec.name, worst, where, ok };
}

/** Runs `count` fuzz cases of a seed; results in order. */
export async function fuzz(
  backend: ReplayBackend,
  reference: ReplayBackend,
  count: number,
  seed: number,
): Promise<FuzzResult[]> {
  const results: FuzzResult[] = [];
  for (let n = 0; n < count; n++)
    results.push(await runFuzzCase(backend, reference, fuzzCase(seed, n, backend)));
  return results;
}

import { type Algorithm, scheduleFreeAlgorithms } from '@schedulefree/core';
import type { HostGrads, HostRecord, ReplayBackend, ReplaySubject } from './backend.js';
import { type CaseSpec, goldenCases, missingFeatures } from './cases.js';
import { stepGrads } from './replay.js';

/**
 * The bad-input matrix: every class × every kind of invalid hyperparameter (at construction and
 * set between steps), malformed gradient records, damaged state dicts, use after dispose and
 * steps in the wrong mode. Each entry must fail with a `ScheduleFreeError` of the expected code
 * whose message names the option or the path, and leave every parameter and `stateDict()` bitwise
 * as they were. Table-driven and public, so outside adapters run it too (through the optional
 * `stateDict`, `loadStateDict` and `setOption` methods of their subjects; entries needing a method
 * a subject lacks are skipped).
 */

/** One row of the matrix. */
export interface BadInput {
  /** What is wrong, for the test name. */
  readonly label: string;
  /** The error code it must raise. */
  readonly code: string;
  /** What the message must name (the option, the gradient, the path in the state). */
  readonly names: RegExp;
}

/** Values no option of any class accepts, for an option whose default is `value`. */
function invalidValuesLike(value: unknown): unknown[] {
  if (typeof value === 'boolean') return ['yes', 1, null];
  if (Array.isArray(value)) return ['abc', [value[0]], [Number.NaN, value[1]], [value[0], -1]];
  return [Number.NaN, -1, Number.POSITIVE_INFINITY, 'abc', null];
}

/** The golden case each class is exercised on (a small one, with groups where it has them). */
function caseFor(optimizer: string): CaseSpec | undefined {
  return goldenCases.find((c) => c.optimizer === optimizer && !c.base && !c.name.endsWith('-frozen'));
}

/** Rows of invalid hyperparameters of a class: every option × every invalid kind, plus an unknown option. */
export function invalidOptionRows(
  algorithm: Algorithm<object>,
): Array<BadInput & { options: Record<string, unknown> }> {
  const rows: Array<BadInput & { options: Record<string, unknown> }> = [];
  for (const [key, value] of Object.entries(algorithm.defaults)) {
    for (const bad of invalidValuesLike(value)) {
      rows.push({
        label: `${key} = ${JSON.stringify(bad) ?? String(bad)}`,
        code: 'INVALID_OPTION',
        names: new RegExp(`"${key}(\\[\\d\\])?"`),
        options: { [key]: bad },
      });
    }
  }
  rows.push({
    label: 'an unknown option',
    code: 'INVALID_OPTION',
    names: /lerningRate/,
    options: { lerningRate: 0.1 },
  });
  // Values inside their ranges whose per-step values overflow: refused when they would, never NaN.
  const overflow = (label: string, options: Record<string, unknown>) =>
    rows.push({
      label: `${label} (overflows)`,
      code: 'INVALID_OPTION',
      names: /per-step value|counter/,
      options,
    });
  const d = algorithm.defaults as Record<string, unknown>;
  if ('lr' in d) overflow('lr = 1e200', { lr: 1e200 });
  if (Array.isArray(d.betas)) overflow('betas[0] = 1e-300', { betas: [1e-300, (d.betas as number[])[1]] });
  if ('momentum' in d) overflow('momentum = 1e-300', { momentum: 1e-300 });
  if ('sfBeta1' in d) overflow('sfBeta1 = 1e-300', { sfBeta1: 1e-300 });
  return rows;
}

/** Malformed gradient records built from a valid one. */
export function badGradientRows(grads: HostRecord): Array<BadInput & { grads: unknown }> {
  const names = Object.keys(grads);
  const [first, last] = [names[0], names[names.length - 1]];
  const withValue = (name: string, value: unknown) => ({ ...grads, [name]: value });
  const poisoned = (value: number) => {
    const copy = grads[last].slice();
    copy[copy.length - 1] = value;
    return withValue(last, copy);
  };
  const { [first]: _dropped, ...missing } = grads;
  return [
    { label: 'null instead of a record', code: 'MISSING_GRAD', names: /record of gradients/, grads: null },
    { label: 'a number instead of a record', code: 'MISSING_GRAD', names: /record of gradients/, grads: 3 },
    {
      label: 'an array instead of a record',
      code: 'MISSING_GRAD',
      names: /record of gradients/,
      grads: [grads[first]],
    },
    {
      label: 'an unknown name',
      code: 'UNKNOWN_PARAM',
      names: /notAParam/,
      grads: { ...grads, notAParam: new Float64Array(1) },
    },
    { label: 'a missing name', code: 'MISSING_GRAD', names: new RegExp(`"${first}"`), grads: missing },
    {
      label: 'a gradient of the wrong size',
      code: 'SHAPE_MISMATCH',
      names: new RegExp(`"${first}"`),
      grads: withValue(first, new Float64Array(grads[first].length + 1)),
    },
    {
      label: 'a string as a gradient',
      code: 'DTYPE_MISMATCH',
      names: new RegExp(`"${first}"`),
      grads: withValue(first, 'abc'),
    },
    {
      label: 'a NaN gradient',
      code: 'NON_FINITE_GRAD',
      names: new RegExp(`"${last}"|device`),
      grads: poisoned(Number.NaN),
    },
    {
      label: 'an Infinity gradient',
      code: 'NON_FINITE_GRAD',
      names: new RegExp(`"${last}"|device`),
      grads: poisoned(Number.NEGATIVE_INFINITY),
    },
  ];
}

type State = {
  format: string;
  optimizer: string;
  mode: string;
  groups: Array<{
    params: string[];
    options: Record<string, unknown>;
    counters: Record<string, number>;
    initialized: unknown;
  }>;
  state: Record<string, Record<string, unknown[]>>;
};

/** Damaged copies of a valid state dict, each naming the path that is wrong. */
export function badStateRows(valid: State): Array<BadInput & { state: unknown }> {
  const clone = (): State => JSON.parse(JSON.stringify(valid));
  const param = valid.groups[0].params[0];
  const slot = Object.keys(valid.state[param] ?? {})[0];
  const at = (value: unknown) => {
    const s = clone();
    s.state[param][slot][0] = value;
    return s;
  };
  const counter = (key: string, value: unknown) => {
    const s = clone();
    (s.groups[0].counters as Record<string, unknown>)[key] = value;
    return s;
  };
  const with_ = (edit: (s: State) => void) => {
    const s = clone();
    edit(s);
    return s;
  };
  const path = new RegExp(`state\\.${param}\\.${slot}`);
  const rows: Array<BadInput & { state: unknown }> = [
    { label: 'not an object', code: 'STATE_MISMATCH', names: /stateDict\(\)/, state: 'abc' },
    {
      label: 'an unknown format version',
      code: 'STATE_MISMATCH',
      names: /schedulefree-state\/9/,
      state: with_((s) => {
        s.format = 'schedulefree-state/9';
      }),
    },
    {
      label: 'another class',
      code: 'STATE_MISMATCH',
      names: /NotThisClass/,
      state: with_((s) => {
        s.optimizer = 'NotThisClass';
      }),
    },
    {
      label: 'an invalid mode',
      code: 'STATE_MISMATCH',
      names: /"mode"/,
      state: with_((s) => {
        s.mode = 'x';
      }),
    },
    {
      label: 'a missing group',
      code: 'STATE_MISMATCH',
      names: /groups/,
      state: with_((s) => {
        s.groups = [];
      }),
    },
    {
      label: 'initialized = "yes"',
      code: 'STATE_MISMATCH',
      names: /groups\[0\]\.initialized/,
      state: with_((s) => {
        s.groups[0].initialized = 'yes';
      }),
    },
    { label: 'counter k = -5', code: 'STATE_MISMATCH', names: /counters\.k/, state: counter('k', -5) },
    { label: 'counter k = 2.5', code: 'STATE_MISMATCH', names: /counters\.k/, state: counter('k', 2.5) },
    {
      label: 'counter k = NaN',
      code: 'STATE_MISMATCH',
      names: /counters\.k/,
      state: counter('k', Number.NaN),
    },
    {
      label: 'weightSum < 0',
      code: 'STATE_MISMATCH',
      names: /counters\.weightSum/,
      state: counter('weightSum', -1),
    },
    {
      label: 'lrMax = Infinity',
      code: 'STATE_MISMATCH',
      names: /counters\.lrMax/,
      state: counter('lrMax', Number.POSITIVE_INFINITY),
    },
    {
      label: 'a missing counter',
      code: 'STATE_MISMATCH',
      names: /counters\.k/,
      state: with_((s) => {
        delete (s.groups[0].counters as Record<string, unknown>).k;
      }),
    },
    {
      label: 'a parameter unknown here',
      code: 'STATE_MISMATCH',
      names: /notAParam/,
      state: with_((s) => {
        s.state.notAParam = s.state[param];
      }),
    },
  ];
  if (slot) {
    rows.push(
      { label: 'NaN in a buffer', code: 'STATE_MISMATCH', names: path, state: at(Number.NaN) },
      {
        label: 'Infinity in a buffer',
        code: 'STATE_MISMATCH',
        names: path,
        state: at(Number.POSITIVE_INFINITY),
      },
      { label: '"abc" in a buffer', code: 'STATE_MISMATCH', names: path, state: at('abc') },
      { label: 'null in a buffer', code: 'STATE_MISMATCH', names: path, state: at(null) },
      {
        label: 'a buffer of the wrong length',
        code: 'STATE_MISMATCH',
        names: path,
        state: with_((s) => {
          s.state[param][slot].push(0);
        }),
      },
      {
        label: 'a buffer that is not an array',
        code: 'STATE_MISMATCH',
        names: path,
        state: with_((s) => {
          (s.state[param] as Record<string, unknown>)[slot] = 'abc';
        }),
      },
      {
        label: 'a missing slot',
        code: 'STATE_MISMATCH',
        names: new RegExp(`state\\.${param}`),
        state: with_((s) => {
          delete s.state[param][slot];
        }),
      },
    );
  }
  return rows;
}

/** The subset of a test runner's API the matrix needs. */
interface Api {
  describe(name: string, fn: () => void): void;
  it(name: string, fn: () => Promise<void> | void, timeout?: number): void;
}

function fail(message: string): never {
  throw new Error(message);
}

/** Parameters and (when the subject has it) the state dict, serialized bit for bit. */
async function snapshot(s: ReplaySubject): Promise<string> {
  const params = await s.params();
  const bits = Object.entries(params).map(([k, v]) => [
    k,
    Array.from(new Uint32Array(Float64Array.from(v).buffer)),
  ]);
  const state = s.stateDict ? await s.stateDict() : null;
  return JSON.stringify([bits, state], (_k, v) =>
    typeof v === 'number' && !Number.isFinite(v) ? String(v) : v,
  );
}

/** Runs `fn`, which must fail with `row.code` naming `row.names`. */
async function expectRefused(fn: () => unknown, row: BadInput, where: string): Promise<void> {
  let error: unknown;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  if (error === undefined) fail(`${where}: ${row.label} was accepted`);
  const { code, message, name } = error as { code?: string; message?: string; name?: string };
  if (name !== 'ScheduleFreeError')
    fail(`${where}: ${row.label} threw ${name}: ${message}, not a ScheduleFreeError`);
  if (code !== row.code) fail(`${where}: ${row.label} raised ${code}, expected ${row.code}: ${message}`);
  if (!row.names.test(message ?? ''))
    fail(`${where}: ${row.label}: the message does not name ${row.names}: ${message}`);
}

/** Registers the bad-input matrix for a backend (also part of `defineConformanceSuite`). */
export function defineBadInputMatrix(backend: ReplayBackend, api: Api, timeout = 60_000): void {
  const { describe, it } = api;
  const classes = (Object.keys(scheduleFreeAlgorithms) as Array<keyof typeof scheduleFreeAlgorithms>)
    .map((name) => ({
      name,
      algorithm: scheduleFreeAlgorithms[name] as Algorithm<object>,
      spec: caseFor(name),
    }))
    .filter(
      (c): c is { name: typeof c.name; algorithm: Algorithm<object>; spec: CaseSpec } =>
        c.spec !== undefined && !missingFeatures(c.spec, backend.features) && !backend.supports?.(c.spec),
    );
  describe(`bad-input matrix: ${backend.name}`, () => {
    for (const { name, algorithm, spec } of classes) {
      const closure = algorithm.kind === 'closure';
      const grads = (i: number): HostGrads => stepGrads(spec.steps[i]);
      const loss = (i: number) => spec.steps[i].loss;
      /** A subject after two steps (in train mode for train/eval classes). */
      const started = async () => {
        const s = await backend.create(spec);
        await s.train();
        await s.step(grads(0), loss(0));
        await s.step(grads(1), loss(1));
        return s;
      };
      const unchanged = async (s: ReplaySubject, row: BadInput, bad: () => unknown, where: string) => {
        const before = await snapshot(s);
        await expectRefused(bad, row, where);
        if ((await snapshot(s)) !== before)
          fail(`${where}: ${row.label} changed the parameters or the state`);
        // The subject still works afterwards.
        await s.step(grads(2), loss(2));
      };

      it(
        `${name}: invalid hyperparameters at construction and between steps`,
        async () => {
          for (const row of invalidOptionRows(algorithm)) {
            const where = `${name} constructed with ${row.label}`;
            if (row.label.endsWith('(overflows)')) {
              // In range at construction; refused by the first call that would overflow (a step
              // whose lr factor is 0, e.g. RAdam's silent phase, overflows nothing), and never NaN.
              const s = await backend.create({
                ...spec,
                groups: undefined,
                options: { ...spec.options, ...row.options },
              });
              try {
                const calls = [
                  () => s.train(),
                  ...spec.steps.map((_, i) => () => s.step(grads(i), loss(i))),
                  () => s.eval(),
                ];
                for (const call of calls) {
                  const before = await snapshot(s);
                  let refused = false;
                  try {
                    await call();
                  } catch {
                    refused = true;
                  }
                  if (!refused) continue;
                  await expectRefused(call, row, where);
                  if ((await snapshot(s)) !== before) fail(`${where}: the refused call changed something`);
                  break;
                }
                for (const [p, v] of Object.entries(await s.params())) {
                  if (!v.every(Number.isFinite))
                    fail(`${where}: parameter "${p}" became non-finite without an error`);
                }
              } finally {
                await s.dispose();
              }
              continue;
            }
            await expectRefused(
              async () => {
                const s = await backend.create({
                  ...spec,
                  groups: undefined,
                  options: { ...spec.options, ...row.options },
                });
                await s.dispose();
              },
              row,
              where,
            );
          }
          const s = await started();
          try {
            if (!s.setOption) return;
            for (const row of invalidOptionRows(algorithm)) {
              const [key, value] = Object.entries(row.options)[0];
              // (The overflow row is checked at construction: refused, or the parameters stay finite.)
              if (key === 'lerningRate' || row.label.endsWith('(overflows)')) continue;
              await unchanged(
                s,
                row,
                async () => {
                  const previous = await s.setOption!(key, value);
                  try {
                    await s.step(grads(2), loss(2));
                  } finally {
                    await s.setOption!(key, previous);
                  }
                },
                `${name}: ${row.label} set between steps`,
              );
            }
          } finally {
            await s.dispose();
          }
        },
        timeout,
      );

      it(
        `${name}: malformed gradient records`,
        async () => {
          const s = await started();
          try {
            const valid = grads(2) as HostRecord;
            for (const row of badGradientRows(valid)) {
              await unchanged(s, row, () => s.step(row.grads as HostGrads, loss(2)), `${name}.step`);
            }
          } finally {
            await s.dispose();
          }
        },
        timeout,
      );

      it(
        `${name}: damaged state dicts`,
        async () => {
          const s = await started();
          try {
            if (!s.stateDict || !s.loadStateDict) return;
            const valid = (await s.stateDict()) as State;
            for (const row of badStateRows(valid)) {
              await unchanged(s, row, () => s.loadStateDict!(row.state), `${name}.loadStateDict`);
            }
          } finally {
            await s.dispose();
          }
        },
        timeout,
      );

      it(
        `${name}: wrong mode and use after dispose`,
        async () => {
          if (!closure) {
            const s = await backend.create(spec);
            try {
              await expectRefused(
                () => s.step(grads(0), loss(0)),
                { label: 'step in eval mode', code: 'WRONG_MODE', names: /train\(\)/ },
                name,
              );
            } finally {
              await s.dispose();
            }
          }
          const s = await started();
          await s.dispose();
          const disposed = { label: 'a call after dispose()', code: 'DISPOSED', names: /dispose\(\)/ };
          await expectRefused(() => s.step(grads(2), loss(2)), disposed, `${name}.step`);
          if (!closure) await expectRefused(() => s.eval(), disposed, `${name}.eval`);
          if (s.stateDict) await expectRefused(() => s.stateDict!(), disposed, `${name}.stateDict`);
        },
        timeout,
      );
    }
  });
}

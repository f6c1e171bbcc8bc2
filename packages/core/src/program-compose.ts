import type { ProgramRun } from './algorithm.js';
import { defineProgram, type ElementwiseProgram } from './program.js';

const PREFIX = 'then_';
const cache = new Map<string, ElementwiseProgram>();

function pick<T>(record: Readonly<Record<string, T>>, names: readonly string[]): Record<string, T> {
  return Object.fromEntries(names.map((n) => [n, record[n]]));
}

/**
 * One program that runs `first`, then `second` on first's outputs (e.g. a step, then the move of
 * the parameters from y to x). Fusing the two saves a pass over memory per variable; the result is
 * the same computation, so any algorithm's step and moves compose without knowing their formulas.
 * `second`'s scalars are renamed with a `then_` prefix.
 */
export function composePrograms(first: ElementwiseProgram, second: ElementwiseProgram): ElementwiseProgram {
  const key = `${first.key}>>${second.key}`;
  let program = cache.get(key);
  if (program) return program;
  const renamed = second.scalars.map((s) => `${PREFIX}${s}`);
  for (const name of renamed) {
    if (first.scalars.includes(name))
      throw new Error(`cannot compose ${key}: scalar "${name}" is used twice`);
  }
  program = defineProgram({
    key,
    inputs: [...first.inputs, ...second.inputs.filter((n) => !first.inputs.includes(n))],
    scalars: [...first.scalars, ...renamed],
    outputs: [...first.outputs, ...second.outputs.filter((n) => !first.outputs.includes(n))],
    body(ops, t, s) {
      const a = pick(first.body(ops, t, s), first.outputs);
      const secondScalars = Object.fromEntries(second.scalars.map((n) => [n, s[`${PREFIX}${n}`]]));
      const b = pick(second.body(ops, { ...t, ...a }, secondScalars), second.outputs);
      return { ...a, ...b };
    },
  });
  cache.set(key, program);
  return program;
}

/** {@link composePrograms} with the scalar values of both runs. */
export function composeRuns(first: ProgramRun, second: ProgramRun): ProgramRun {
  const scalars: Record<string, number> = { ...first.scalars };
  for (const [name, value] of Object.entries(second.scalars)) scalars[`${PREFIX}${name}`] = value;
  return { program: composePrograms(first.program, second.program), scalars };
}

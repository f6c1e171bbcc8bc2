import { describe, expect, it } from 'vitest';
import {
  copyProgram,
  fusedStepProgram,
  lerpToZProgram,
  referenceStepProgram,
} from '../algorithms/programs.js';
import { interpret } from '../ir/interpret.js';
import { trace } from '../ir/trace.js';
import { TypedArrayOps } from '../typed-array/ops.js';
import { nodeExpressions } from './expressions.js';
import { compileLoop, generateLoopSource } from './js-loop.js';
import { lerpPattern, planFor, planKernel, scalarValues } from './kernel-plan.js';

const ops = new TypedArrayOps();
const data = (n: number, seed: number) =>
  Float64Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 1.3));

describe('kernel plan', () => {
  it('decides each lerp branch on the float64 weight, once per run', () => {
    const graph = trace(lerpToZProgram);
    expect(lerpPattern(graph, { w: 0.49 })).toBe('s');
    expect(lerpPattern(graph, { w: -0.49 })).toBe('s');
    expect(lerpPattern(graph, { w: 0.5 })).toBe('l');
    // Rounds to 0.5 in float32, yet is below 0.5: the float64 value decides, for every target.
    const justBelow = 0.5 - 2 ** -30;
    expect(Math.fround(justBelow)).toBe(0.5);
    expect(lerpPattern(graph, { w: justBelow })).toBe('s');
  });

  it('derives reciprocals of divisors and 1 − w for the large lerp branch', () => {
    const d = { secondMoment: true, normalize: true, innerMomentum: true };
    const graph = trace(fusedStepProgram(d, true));
    const plan = planFor(graph, { c: 0.9 });
    expect(plan.uses).toContainEqual({ kind: 'reciprocal', name: 'bc2' });
    expect(plan.uses).toContainEqual({ kind: 'reciprocal', name: 'bc1' });
    expect(plan.uses).toContainEqual({ kind: 'oneMinus', name: 'c' });
    const scalars = Object.fromEntries(graph.scalars.map((n, i) => [n, 0.25 + i]));
    scalars.c = 0.9;
    const values = scalarValues(plan, scalars);
    plan.uses.forEach((u, i) => {
      const s = scalars[u.name];
      expect(values[i]).toBe(u.kind === 'value' ? s : u.kind === 'reciprocal' ? 1 / s : 1 - s);
    });
    expect(() => scalarValues(plan, {})).toThrow(/missing scalar/);
  });

  it('leaves out outputs that are their own unchanged input', () => {
    const plan = planKernel(trace(copyProgram('x')), '');
    expect(plan.stores).toEqual(['param']);
    expect(plan.loads).toEqual(['x']);
  });

  it('gives every target the same expressions', () => {
    const plan = planKernel(trace(lerpToZProgram), 'l');
    const exprs = nodeExpressions(plan, {
      input: (n) => `${n}[i]`,
      scalar: (u) => `s${u}`,
      sqrt: (x) => x,
      abs: (x) => x,
    });
    expect(exprs.map((e) => e.expr)).toEqual(['param[i]', 'z[i]', 'v1 - (v1 - v0) * s0']);
  });
});

describe('JavaScript loop agrees with eager execution', () => {
  const programs = [
    fusedStepProgram({ secondMoment: true, normalize: true, innerMomentum: true }, true),
    fusedStepProgram({ secondMoment: false, normalize: false, innerMomentum: false }, false),
    referenceStepProgram({ secondMoment: true, normalize: true, innerMomentum: false }, 'z-at-y'),
  ];
  for (const program of programs) {
    for (const c of [0.2, 0.8]) {
      it(`${program.key} with c = ${c}, in place and into new arrays`, () => {
        const n = 37;
        const tensors = Object.fromEntries(program.inputs.map((name, i) => [name, data(n, i + 1)]));
        if (tensors.v) tensors.v = tensors.v.map(Math.abs);
        const scalars = Object.fromEntries(program.scalars.map((name, i) => [name, 0.1 + 0.05 * i]));
        scalars.c = c;
        const eager = program.body(ops, tensors, scalars);
        const graph = trace(program);
        const interpreted = interpret(graph, ops, tensors, scalars);
        const plan = planFor(graph, scalars);
        const args = scalarValues(plan, scalars);

        const inPlace = Object.fromEntries(Object.entries(tensors).map(([k, v]) => [k, v.slice()]));
        compileLoop(plan)(
          graph.inputs.map((name) => inPlace[name]),
          plan.stores.map((name) => inPlace[name]),
          args,
        );
        const outputs = program.outputs.map(() => new Float64Array(n));
        compileLoop(plan, program.outputs)(
          graph.inputs.map((name) => tensors[name]),
          outputs,
          args,
        );
        program.outputs.forEach((out, j) => {
          expect(interpreted[out]).toEqual(eager[out]);
          inPlace[out].forEach((v, i) => expect(v).toBeCloseTo(eager[out][i], 14));
          expect(outputs[j]).toEqual(inPlace[out]);
        });
      });
    }
  }

  it('generates one loop that loads each used input once', () => {
    const graph = trace(
      fusedStepProgram({ secondMoment: true, normalize: true, innerMomentum: false }, true),
    );
    const source = generateLoopSource(planFor(graph, { c: 0.3 }));
    expect(source.match(/for \(/g)).toHaveLength(1);
    expect(source.match(new RegExp(`in${graph.inputs.indexOf('grad')}\\[i\\]`, 'g'))).toHaveLength(1);
  });
});

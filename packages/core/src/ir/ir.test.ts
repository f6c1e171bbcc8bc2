import { describe, expect, it } from 'vitest';
import { fusedStepProgram, referenceStepProgram } from '../algorithms/programs.js';
import { defineProgram } from '../program.js';
import { TypedArrayOps } from '../typed-array/ops.js';
import { compileToJs, generateLoopSource } from './compile-js.js';
import { interpret } from './interpret.js';
import { TracingOps, trace } from './trace.js';

const ops = new TypedArrayOps();
const data = (n: number, seed: number) =>
  Float64Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 1.3));

describe('tracing', () => {
  it('records only what the outputs depend on, keeping every declared input', () => {
    const program = defineProgram({
      key: 'test-prune',
      inputs: ['param', 'grad', 'z'],
      scalars: ['a', 'b'],
      outputs: ['param'],
      body(o, t, s) {
        o.mulScalar(t.z, s.b); // dead
        return { param: o.addScalar(t.param, s.a) };
      },
    });
    const graph = trace(program);
    expect(graph.nodes.map((n) => n.op)).toEqual(['input', 'input', 'input', 'scalar', 'scalar', 'add']);
    expect(graph.outputs).toEqual({ param: 5 });
  });

  it('refuses storage operations while tracing', () => {
    const t = new TracingOps();
    expect(() => t.clone()).toThrow(/not available while tracing/);
  });

  it('rejects outputs that are not input slots', () => {
    expect(() =>
      defineProgram({
        key: 'bad',
        inputs: ['param', 'grad'],
        scalars: [],
        outputs: ['grad'],
        body: (_o, t) => ({ grad: t.grad }),
      }),
    ).toThrow(/non-gradient input/);
  });
});

describe('lowerings agree with eager execution', () => {
  const programs = [
    fusedStepProgram({ secondMoment: true, normalize: true, innerMomentum: true }, true),
    fusedStepProgram({ secondMoment: false, normalize: false, innerMomentum: false }, false),
    referenceStepProgram({ secondMoment: true, normalize: true, innerMomentum: false }, 'z-at-y'),
  ];
  for (const program of programs) {
    for (const c of [0.2, 0.8]) {
      it(`${program.key} with c = ${c} (lerp branch ${Math.abs(c) < 0.5 ? 'small' : 'large'})`, () => {
        const n = 37;
        const tensors = Object.fromEntries(program.inputs.map((name, i) => [name, data(n, i + 1)]));
        if (tensors.v) tensors.v = tensors.v.map(Math.abs);
        const scalars = Object.fromEntries(program.scalars.map((name, i) => [name, 0.1 + 0.05 * i]));
        scalars.c = c;
        const eager = program.body(ops, tensors, scalars);
        const graph = trace(program);
        const interpreted = interpret(graph, ops, tensors, scalars);
        const compiled = Object.fromEntries(Object.entries(tensors).map(([k, v]) => [k, v.slice()]));
        compileToJs(graph)(compiled, scalars);
        for (const out of program.outputs) {
          expect(interpreted[out]).toEqual(eager[out]);
          compiled[out].forEach((v, i) => expect(v).toBeCloseTo(eager[out][i], 14));
        }
      });
    }
  }

  it('generates one loop that loads each used input once', () => {
    const source = generateLoopSource(
      trace(fusedStepProgram({ secondMoment: true, normalize: true, innerMomentum: false }, true)),
    );
    expect(source.match(/for \(/g)).toHaveLength(1);
    expect(source.match(/t_grad\[i\]/g)).toHaveLength(1);
  });
});

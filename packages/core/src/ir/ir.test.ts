import { describe, expect, it } from 'vitest';
import { defineProgram } from '../program.js';
import { TracingOps, trace } from './trace.js';

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

import { goldenCases } from '@schedulefree/conformance';
import {
  AdamWScheduleFree,
  AdamWScheduleFreeReference,
  graphOf,
  ScheduleFreeError,
  SGDScheduleFree,
  SGDScheduleFreeReference,
  type TypedArray,
} from '@schedulefree/core';
import { describe, expect, it } from 'vitest';
import { SGDAlgorithm, type SGDOptions } from './base/sgd.js';
import type { BaseAlgorithm } from './base/types.js';
import { ScheduleFreeWrapperAlgorithm } from './index.js';
import {
  Adam,
  AdamW,
  RMSprop,
  ScheduleFreeWrapper,
  ScheduleFreeWrapperReference,
  SGD,
} from './typed-array.js';

/** A seeded stream of gradient records for a fixed parameter layout. */
function gradients(
  sizes: Record<string, number>,
  steps: number,
  seed = 3,
): Array<Record<string, Float64Array>> {
  let s = seed;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2147483648 - 1;
  };
  return Array.from({ length: steps }, () =>
    Object.fromEntries(Object.entries(sizes).map(([k, n]) => [k, Float64Array.from({ length: n }, next)])),
  );
}

const initial = () => ({ a: Float64Array.from([0.5, -1, 2, 0.25]), b: Float64Array.from([1.5, -0.5]) });

interface Steppable {
  train(): unknown;
  step(g: Record<string, TypedArray>): unknown;
  evalParams(): Record<string, TypedArray>;
  readonly params: Readonly<Record<string, TypedArray>>;
}

/** Runs two optimizers (built on equal copies of the parameters) on the same gradients; y and x must agree. */
function expectSameTrajectory(make: (p: ReturnType<typeof initial>) => [Steppable, Steppable], tol: number) {
  const [first, second] = make(initial());
  first.train();
  second.train();
  for (const g of gradients({ a: 4, b: 2 }, 12)) {
    first.step(g);
    second.step(g);
    for (const name of ['a', 'b']) {
      const [y1, y2] = [first.params[name], second.params[name]];
      y1.forEach((v, i) => expect(Math.abs(v - y2[i])).toBeLessThanOrEqual(tol));
      const [x1, x2] = [first.evalParams()[name], second.evalParams()[name]];
      x1.forEach((v, i) => expect(Math.abs(v - x2[i])).toBeLessThanOrEqual(tol));
    }
  }
}

describe('equivalences', () => {
  it('ScheduleFreeWrapper(SGD(lr), {momentum β, weightDecayAtY λ}) equals SGDScheduleFree({lr, momentum β, weightDecay λ})', () => {
    expectSameTrajectory(
      (p) => [
        new ScheduleFreeWrapper(new SGD(p, { lr: 0.3 }), { momentum: 0.85, weightDecayAtY: 0.1 }),
        new SGDScheduleFree(initialLike(p), { lr: 0.3, momentum: 0.85, weightDecay: 0.1 }),
      ],
      1e-13,
    );
  });

  it('ScheduleFreeWrapperReference(SGD) equals SGDScheduleFreeReference', () => {
    expectSameTrajectory(
      (p) => [
        new ScheduleFreeWrapperReference(new SGD(p, { lr: 0.2 }), { momentum: 0.9, weightDecayAtY: 0.05 }),
        new SGDScheduleFreeReference(initialLike(p), { lr: 0.2, momentum: 0.9, weightDecay: 0.05 }),
      ],
      1e-13,
    );
  });

  it('ScheduleFreeWrapperReference(AdamW(betas [μ, β2], wd 0), {momentum β}) equals AdamWScheduleFreeReference({betas [β, β2], innerMomentum μ})', () => {
    expectSameTrajectory(
      (p) => [
        new ScheduleFreeWrapperReference(new AdamW(p, { lr: 0.05, betas: [0.8, 0.99], weightDecay: 0 }), {
          momentum: 0.9,
        }),
        new AdamWScheduleFreeReference(initialLike(p), { lr: 0.05, betas: [0.9, 0.99], innerMomentum: 0.8 }),
      ],
      1e-12,
    );
  });

  it('ScheduleFreeWrapper(Adam(betas [0, β2])) equals AdamWScheduleFree without warmup', () => {
    expectSameTrajectory(
      (p) => [
        new ScheduleFreeWrapper(new Adam(p, { lr: 0.05, betas: [0, 0.999] }), { momentum: 0.9 }),
        new AdamWScheduleFree(initialLike(p), { lr: 0.05, betas: [0.9, 0.999] }),
      ],
      1e-12,
    );
  });
});

/** Fresh copies of the same initial values, for the second optimizer of a pair. */
function initialLike(p: ReturnType<typeof initial>) {
  return { a: p.a.slice(), b: p.b.slice() };
}

describe('counters', () => {
  it('scheduled lr, lrMax and weightSum follow the golden wrapper cases', () => {
    for (const spec of goldenCases.filter((c) => c.name.startsWith('wrapper'))) {
      const flat = (v: unknown): number[] => (Array.isArray(v) ? v.flatMap(flat) : [v as number]);
      const params = Object.fromEntries(
        Object.entries(spec.params).map(([k, v]) => [k, Float64Array.from(flat(v))]),
      );
      const Base = { SGD, Adam, AdamW, RMSprop }[spec.base!.type as 'SGD']!;
      const Wrapper =
        spec.optimizer === 'ScheduleFreeWrapper' ? ScheduleFreeWrapper : ScheduleFreeWrapperReference;
      const opt = new Wrapper(new Base(params, spec.base!.options as never), spec.options).train();
      for (const step of spec.steps) {
        opt.step(
          Object.fromEntries(
            Object.entries(step.grads).map(([k, v]) => [k, v === null ? null : Float64Array.from(flat(v))]),
          ),
        );
        const state = opt.groupState();
        expect(state.scheduledLr).toBeCloseTo(step.scheduledLr!, 15);
        expect(state.lrMax).toBeCloseTo(step.lrMax!, 15);
        expect(state.weightSum / step.weightSum! - 1).toBeLessThan(1e-14);
      }
    }
  });

  it('the averaging weights use the base lr times its d factor', () => {
    const doubled: BaseAlgorithm<SGDOptions> = {
      ...SGDAlgorithm,
      name: 'SGDd2',
      effectiveLr: (o) => 2 * o.lr,
    };
    const algorithm = ScheduleFreeWrapperAlgorithm(doubled);
    const plan = algorithm.planStep({ ...SGDAlgorithm.defaults, lr: 0.1 }, algorithm.initialCounters());
    expect(plan.counters.lrMax).toBeCloseTo(0.2, 15);
    expect(plan.counters.weightSum).toBeCloseTo(0.04, 15);
  });
});

describe('fixes over the reference wrapper', () => {
  it('a zero first lr moves nothing instead of dividing by zero', () => {
    const p = initial();
    const before = { a: p.a.slice(), b: p.b.slice() };
    const opt = new ScheduleFreeWrapper(new SGD(p, { lr: 0 })).train();
    for (const g of gradients({ a: 4, b: 2 }, 3)) opt.step(g);
    expect(p).toEqual(before);
    expect(opt.groupState().weightSum).toBe(0);
    opt.paramGroups[0].lr = 0.1;
    opt.step(gradients({ a: 4, b: 2 }, 1)[0]);
    expect(Array.from(p.a).some((v, i) => v !== before.a[i])).toBe(true);
  });

  it("keeps the base's state apart from its own, and saves the mode", () => {
    const opt = new ScheduleFreeWrapper(new Adam(initial(), { lr: 0.01 })).train();
    opt.step(gradients({ a: 4, b: 2 }, 1)[0]);
    const state = opt.stateDict();
    expect(Object.keys(state.state.a).sort()).toEqual(['base_expAvg', 'base_expAvgSq', 'z']);
    expect(state.mode).toBe('train');
    expect(state.groups[0].counters).toMatchObject({ k: 1, base_step: 1 });
  });

  it('is a first-class optimizer: state dicts round-trip and resume exactly', () => {
    const grads = gradients({ a: 4, b: 2 }, 10);
    const straight = new ScheduleFreeWrapper(
      new RMSprop(initial(), { lr: 0.01, centered: true, momentum: 0.5 }),
    ).train();
    for (const g of grads) straight.step(g);

    const p = initial();
    const first = new ScheduleFreeWrapper(
      new RMSprop(p, { lr: 0.01, centered: true, momentum: 0.5 }),
    ).train();
    for (const g of grads.slice(0, 4)) first.step(g);
    const saved = JSON.parse(JSON.stringify(first.stateDict()));
    const resumed = new ScheduleFreeWrapper(
      new RMSprop({ b: p.b, a: p.a }, { lr: 0.01, centered: true, momentum: 0.5 }),
    );
    resumed.loadStateDict(saved);
    expect(resumed.mode).toBe('train');
    for (const g of grads.slice(4)) resumed.step(g);
    expect(p.a).toEqual(straight.params.a);
    expect(p.b).toEqual(straight.params.b);
  });

  it('refuses the state of a wrapper around another base optimizer', () => {
    const adam = new ScheduleFreeWrapper(new Adam(initial())).train();
    adam.step(gradients({ a: 4, b: 2 }, 1)[0]);
    const sgd = new ScheduleFreeWrapper(new SGD(initial()));
    expect(() => sgd.loadStateDict(adam.stateDict())).toThrow(/ScheduleFreeWrapper\(Adam\)/);
    expect(sgd.stateDict().groups[0].initialized).toBe(false);
  });
});

describe('errors', () => {
  it('rejects bad wrapper options by name and leaves the base usable', () => {
    const base = new SGD(initial(), { lr: 0.1 });
    expect(() => new ScheduleFreeWrapper(base, { momentum: 1.5 })).toThrow(
      /"momentum" must be in \(0, 1\), got 1.5/,
    );
    expect(() => new ScheduleFreeWrapper(base, { weightDecayAtY: -1 })).toThrow(/"weightDecayAtY"/);
    expect(() => new ScheduleFreeWrapper(base, { momentm: 0.9 } as never)).toThrow(
      /unknown option "momentm"/,
    );
    expect(base.step(gradients({ a: 4, b: 2 }, 1)[0])).toBe(true);
  });

  it('wrapping takes the base over: the base then says to use the wrapper', () => {
    const base = new SGD(initial(), { lr: 0.1 });
    const wrapper = new ScheduleFreeWrapper(base);
    expect(wrapper.paramGroups[0].lr).toBe(0.1);
    expect(() => base.step(gradients({ a: 4, b: 2 }, 1)[0])).toThrow(/wrapped by ScheduleFreeWrapper/);
  });

  it('refuses a base that has already stepped', () => {
    const base = new Adam(initial());
    base.step(gradients({ a: 4, b: 2 }, 1)[0]);
    expect(() => new ScheduleFreeWrapper(base)).toThrow(/already taken steps/);
  });

  it('validates base options, including constraints between them', () => {
    expect(() => new SGD(initial(), { lr: -0.1 })).toThrow(/"lr" must be a finite number ≥ 0, got -0.1/);
    expect(() => new SGD(initial(), { nesterov: true })).toThrow(/"nesterov" needs momentum > 0/);
    expect(() => new Adam(initial(), { betas: [0.9, 1] })).toThrow(/betas\[1\]/);
    const opt = new ScheduleFreeWrapper(new SGD(initial(), { lr: 0.1 })).train();
    opt.paramGroups[0].lr = -1;
    expect(() => opt.step(gradients({ a: 4, b: 2 }, 1)[0])).toThrow(ScheduleFreeError);
  });
});

describe('fusion', () => {
  it('base and wrapper trace into one elementwise graph', () => {
    const algorithm = ScheduleFreeWrapperAlgorithm(SGDAlgorithm, { weightDecayAtY: 0.1 });
    const options = { ...SGDAlgorithm.defaults, momentum: 0.9 };
    const plan = algorithm.planStep(options, algorithm.initialCounters());
    const graph = graphOf(plan.program);
    expect(Object.keys(graph.outputs).sort()).toEqual(['base_momentumBuffer', 'param', 'z']);
    expect(graph.scalars).toEqual(
      expect.arrayContaining(['c', 'toX', 'toY', 'decayZ', 'decayY', 'base_lr', 'base_keep']),
    );
  });
});

describe('options that are not an object', () => {
  it('are refused by the base optimizers and the wrapper, which then still owns nothing', () => {
    const w = Float32Array.of(1, 2);
    expect(() => new SGD({ w }, 0.1 as never)).toThrow(/SGD: options must be an object of named options/);
    const base = new SGD({ w }, { lr: 0.1 });
    expect(() => new ScheduleFreeWrapper(base, 3 as never)).toThrow(
      /ScheduleFreeWrapper: options must be an object of named options/,
    );
    // The base was not handed over: it still steps.
    base.step({ w: Float32Array.of(1, 1) });
    expect(w[0]).toBeCloseTo(0.9, 6);
  });
});

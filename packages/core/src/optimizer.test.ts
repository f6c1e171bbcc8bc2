import { describe, expect, it } from 'vitest';
import { ScheduleFreeError } from './errors.js';
import {
  AdamWScheduleFree,
  SGDScheduleFree,
  SGDScheduleFreeClosure,
  SGDScheduleFreeReference,
} from './typed-array/classes.js';

const grads = (n: number, steps: number, seed = 1) =>
  Array.from({ length: steps }, (_, s) =>
    Float64Array.from({ length: n }, (_, i) => Math.sin(seed + 3.7 * s + 1.9 * i)),
  );

describe("the spec's worked example V1 (SGDScheduleFree on w²/2)", () => {
  it('reproduces the hand-computed table', () => {
    const w = Float64Array.of(1);
    const opt = new SGDScheduleFree(
      { w },
      { lr: 1, momentum: 0.9, weightDecay: 0.1, warmupSteps: 2 },
    ).train();
    const table = [
      { lr: 0.5, weightSum: 0.25, y: 0.45, x: 0.45 },
      { lr: 1.0, weightSum: 1.25, y: 0.0441, x: 0.054 },
      { lr: 1.0, weightSum: 2.25, y: -0.019755, x: -0.01156 },
    ];
    for (const row of table) {
      opt.step({ w: Float64Array.of(w[0]) }); // ∇(w²/2) = w, taken at y
      expect(opt.groupState().scheduledLr).toBe(row.lr);
      expect(opt.groupState().weightSum).toBeCloseTo(row.weightSum, 15);
      expect(w[0]).toBeCloseTo(row.y, 14);
      expect(opt.evalParams().w[0]).toBeCloseTo(row.x, 14);
    }
    opt.eval();
    expect(w[0]).toBeCloseTo(-0.01156, 14);
  });
});

describe('modes', () => {
  it('starts in eval mode, refuses to step there, and switches idempotently', () => {
    const w = Float32Array.of(1, 2);
    const opt = new AdamWScheduleFree({ w });
    expect(opt.mode).toBe('eval');
    expect(() => opt.step({ w: Float32Array.of(1, 1) })).toThrow(/call optimizer\.train\(\)/i);
    opt.train().train();
    expect(opt.mode).toBe('train');
    opt.eval().eval();
    expect(Array.from(w)).toEqual([1, 2]);
  });

  it('evalParams returns x and changes nothing', () => {
    const w = Float64Array.of(0.5, -1, 2);
    const opt = new SGDScheduleFree({ w }, { lr: 0.1 }).train();
    for (const g of grads(3, 4)) opt.step({ w: g });
    const y = w.slice();
    const state = JSON.stringify(opt.stateDict());
    const x = opt.evalParams().w;
    expect(w).toEqual(y);
    expect(JSON.stringify(opt.stateDict())).toBe(state);
    opt.eval();
    expect(w).toEqual(x);
  });

  it('withEvalParams runs at x and restores y bit for bit, also when fn throws or rejects', async () => {
    const w = Float32Array.of(0.5, -1, 2);
    const opt = new AdamWScheduleFree({ w }, { lr: 0.01 }).train();
    for (const g of grads(3, 5)) opt.step({ w: Float32Array.from(g) });
    const y = w.slice();
    const x = opt.evalParams().w;
    expect(opt.withEvalParams(() => w.slice())).toEqual(x);
    expect(w).toEqual(y);
    expect(() =>
      opt.withEvalParams(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(w).toEqual(y);
    await expect(opt.withEvalParams(async () => Promise.reject(new Error('later')))).rejects.toThrow('later');
    expect(w).toEqual(y);
    expect(opt.mode).toBe('train');
  });
});

describe('state dicts', () => {
  it('survive JSON and resume exactly, matched by name whatever the parameter order', () => {
    const make = (p: Record<string, Float32Array>) =>
      new AdamWScheduleFree(p, { lr: 0.01, weightDecay: 0.1, warmupSteps: 3 });
    const gs = grads(5, 10);
    const split = (g: Float64Array) => ({
      a: Float32Array.from(g.subarray(0, 3)),
      b: Float32Array.from(g.subarray(3)),
    });

    const straight = { a: Float32Array.of(1, 2, 3), b: Float32Array.of(-1, 0.5) };
    const s = make(straight).train();
    for (const g of gs) s.step(split(g));

    const resumed = { a: Float32Array.of(1, 2, 3), b: Float32Array.of(-1, 0.5) };
    const first = make(resumed).train();
    for (const g of gs.slice(0, 6)) first.step(split(g));
    const saved = JSON.parse(JSON.stringify(first.stateDict()));
    const second = make({ b: resumed.b, a: resumed.a }); // other order
    second.loadStateDict(saved);
    expect(second.mode).toBe('train');
    expect(second.groupState()).toEqual(first.groupState());
    for (const g of gs.slice(6)) second.step(split(g));
    expect(resumed).toEqual(straight);
  });

  it('refuses a state from another class, other names, sizes or slots, changing nothing', () => {
    const w = Float64Array.of(1, 2);
    const opt = new AdamWScheduleFree({ w }).train();
    opt.step({ w: Float64Array.of(1, 1) });
    const good = opt.stateDict();
    const before = JSON.stringify(good);
    const cases: Array<[unknown, RegExp]> = [
      [{ ...good, optimizer: 'SGDScheduleFree' }, /from "SGDScheduleFree"/],
      [
        { ...good, groups: [{ ...good.groups[0], params: ['v'] }] },
        /missing from the state: w.*unknown here: v/,
      ],
      [{ ...good, state: { w: { ...good.state.w, z: [1, 2, 3] } } }, /state\.w\.z has 3 values/],
      [{ ...good, state: { w: { z: [1, 2] } } }, /state\.w has slots \[z\]/],
      [{ ...good, groups: [{ ...good.groups[0], options: { ...good.groups[0].options, lr: -1 } }] }, /"lr"/],
      [{ format: 'other' }, /format/],
    ];
    for (const [bad, pattern] of cases) {
      expect(() => opt.loadStateDict(bad as never)).toThrow(pattern);
      expect(JSON.stringify(opt.stateDict())).toBe(before);
    }
    const other = new SGDScheduleFree({ w: Float64Array.of(1, 2) });
    expect(() => other.loadStateDict(good)).toThrow(ScheduleFreeError);
  });
});

describe('parameter groups and external schedules', () => {
  it('keeps options and counters per group, and lr may change between steps', () => {
    const a = Float64Array.of(1, 2);
    const b = Float64Array.of(3);
    const opt = new SGDScheduleFree([{ params: { a } }, { params: { b }, lr: 0.5, warmupSteps: 2 }], {
      lr: 0.1,
    }).train();
    opt.step({ a: Float64Array.of(1, 1), b: Float64Array.of(1) });
    expect(opt.groupState(0).scheduledLr).toBe(0.1);
    expect(opt.groupState(1).scheduledLr).toBe(0.25);
    opt.paramGroups[0].lr = 0.05;
    opt.step({ a: Float64Array.of(1, 1), b: Float64Array.of(1) });
    expect(opt.groupState(0)).toMatchObject({ scheduledLr: 0.05, lrMax: 0.1, k: 2 });
    expect(opt.groupState(0).weightSum).toBeCloseTo(0.02, 15);
  });

  it('rejects a parameter listed twice and an invalid lr set between steps', () => {
    const a = Float64Array.of(1);
    expect(() => new SGDScheduleFree([{ params: { a } }, { params: { a } }])).toThrow(/more than one group/);
    const opt = new SGDScheduleFree({ a }).train();
    opt.paramGroups[0].lr = Number.NaN;
    expect(() => opt.step({ a: Float64Array.of(1) })).toThrow(/"lr"/);
    expect(opt.groupState().k).toBe(0);
  });
});

describe('bad input', () => {
  it('names the problem and changes nothing', () => {
    const w = Float32Array.of(1, 2);
    const opt = new AdamWScheduleFree({ w }).train();
    expect(() => opt.step({ w: Float64Array.of(1, 1) } as never)).toThrow(
      /Float64Array but the parameter is a Float32Array/,
    );
    expect(() => opt.step({ w: [1, 2] } as never)).toThrow(/not a tensor this backend/);
    expect(() => new AdamWScheduleFree({ w: [1, 2] } as never)).toThrow(/parameter "w" is not a tensor/);
    expect(() => new AdamWScheduleFree({ w }, { betas: [0.9, 1.2] })).toThrow(
      /option "betas\[1\]" must be in \[0, 1\), got 1.2/,
    );
    expect(() => new AdamWScheduleFree({ w }, { warmupSteps: 1.5 })).toThrow(
      /"warmupSteps" must be an integer/,
    );
    expect(Array.from(w)).toEqual([1, 2]);
    expect(opt.groupState().k).toBe(0);
  });

  it("skips non-finite steps with nonFiniteGrads: 'skip'", () => {
    const w = Float64Array.of(1, 2);
    const opt = new SGDScheduleFree({ w }, { nonFiniteGrads: 'skip' }).train();
    expect(opt.step({ w: Float64Array.of(Number.NaN, 1) })).toBe(false);
    expect(Array.from(w)).toEqual([1, 2]);
    expect(opt.stateDict().groups[0].initialized).toBe(false);
    expect(opt.step({ w: Float64Array.of(1, 1) })).toBe(true);
  });

  it('is unusable after dispose', () => {
    const opt = new SGDScheduleFree({ w: Float64Array.of(1) }).train();
    opt.dispose();
    for (const call of [
      () => opt.step({ w: Float64Array.of(1) }),
      () => opt.eval(),
      () => opt.stateDict(),
      () => opt.evalParams(),
    ]) {
      expect(call).toThrow(/after dispose\(\)/);
    }
  });
});

describe('closure classes', () => {
  it('hold x between steps, return the loss, and restore x exactly when the closure fails', () => {
    const w = Float64Array.of(1, -2);
    const opt = new SGDScheduleFreeClosure({ w }, { lr: 0.1 });
    const gradAt = (p: Float64Array) => Float64Array.from(p); // ∇(|w|²/2)
    expect(opt.step(() => ({ loss: 2.5, grads: { w: gradAt(w) } }))).toBe(2.5);
    expect(opt.step(() => ({ w: gradAt(w) }))).toBeUndefined();
    const x = w.slice();
    expect(() =>
      opt.step(() => {
        throw new Error('no gradient');
      }),
    ).toThrow('no gradient');
    expect(w).toEqual(x);
    expect(() => opt.step(() => ({ w: Float64Array.of(Number.POSITIVE_INFINITY, 0) }))).toThrow(
      /NaN or Infinity/,
    );
    expect(w).toEqual(x);
    expect(opt.groupState().k).toBe(2);
  });

  it('agree with the train/eval form', () => {
    const [w1, w2] = [Float64Array.of(1, -2, 0.5), Float64Array.of(1, -2, 0.5)];
    const fused = new SGDScheduleFree({ w: w1 }, { lr: 0.2, weightDecay: 0.1 }).train();
    const sgdClosure = new SGDScheduleFreeClosure({ w: w2 }, { lr: 0.2, weightDecay: 0.1 });
    for (let s = 0; s < 6; s++) {
      const g = Float64Array.from(w1, (v) => 2 * v);
      fused.step({ w: g });
      sgdClosure.step(() => ({ w: g }));
      fused.evalParams().w.forEach((v, i) => expect(w2[i]).toBeCloseTo(v, 14));
    }
  });
});

describe('reference classes', () => {
  it('accept β in [0, 1] and switch modes by exact copies', () => {
    for (const momentum of [0, 1]) {
      const w = Float64Array.of(1, 2);
      const opt = new SGDScheduleFreeReference({ w }, { lr: 0.1, momentum }).train();
      for (const g of grads(2, 3)) opt.step({ w: g });
      const y = w.slice();
      opt.eval().train();
      expect(w).toEqual(y);
    }
  });
});

describe('options that are not an object', () => {
  it.each([0.01, 'x', [0.01], true])(
    'refuses %j where options belong, naming the class and the fix',
    (options) => {
      const w = Float32Array.of(1, 2);
      for (const make of [
        () => new AdamWScheduleFree({ w }, options as never),
        () => new SGDScheduleFreeClosure({ w }, options as never),
      ]) {
        expect(make).toThrow(ScheduleFreeError);
        expect(make).toThrow(
          /(AdamW|SGD)ScheduleFree(Closure)?: options must be an object of named options, e\.g\. \{ lr: 0\.01 \}/,
        );
      }
      expect(Array.from(w)).toEqual([1, 2]);
    },
  );
});

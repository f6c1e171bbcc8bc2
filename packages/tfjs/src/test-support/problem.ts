import * as tf from '@tensorflow/tfjs';

let uid = 0;

/** A small quadratic f(w) = ½ Σ a (w − b)² over two variables (a matrix and a vector), fresh names each time. */
export function quadratic(seed = 1) {
  const id = ++uid;
  let s = seed >>> 0;
  const random = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const values = (n: number, lo: number, hi: number) =>
    Array.from({ length: n }, () => lo + (hi - lo) * random());
  const shapes = { w: [3, 2], b: [4] } as const;
  const init = { w: values(6, -1, 1), b: values(4, -1, 1) };
  const a = { w: values(6, 0.5, 2), b: values(4, 0.5, 2) };
  const target = { w: values(6, -1, 1), b: values(4, -1, 1) };
  const w = tf.variable(tf.tensor(init.w, [...shapes.w]), true, `q${id}/w`);
  const b = tf.variable(tf.tensor(init.b, [...shapes.b]), true, `q${id}/b`);
  const consts = tf.tidy(() => ({
    aw: tf.keep(tf.tensor(a.w, [...shapes.w])),
    ab: tf.keep(tf.tensor(a.b, [...shapes.b])),
    tw: tf.keep(tf.tensor(target.w, [...shapes.w])),
    tb: tf.keep(tf.tensor(target.b, [...shapes.b])),
  }));
  const loss = () =>
    tf.tidy(() =>
      tf
        .add(
          tf.sum(tf.mul(consts.aw, tf.square(tf.sub(w, consts.tw)))),
          tf.sum(tf.mul(consts.ab, tf.square(tf.sub(b, consts.tb)))),
        )
        .mul(0.5),
    ) as tf.Scalar;
  /** Gradients at the current values (a · (w − target)), keyed by variable name, in Float64 as well. */
  const grads = () => {
    const gw = tf.tidy(() => tf.mul(consts.aw, tf.sub(w, consts.tw)));
    const gb = tf.tidy(() => tf.mul(consts.ab, tf.sub(b, consts.tb)));
    return { [w.name]: gw, [b.name]: gb };
  };
  const read = () => ({ w: Float64Array.from(w.dataSync()), b: Float64Array.from(b.dataSync()) });
  return {
    w,
    b,
    variables: [w, b],
    init,
    a,
    target,
    loss,
    grads,
    read,
    dispose: () => tf.dispose([w, b, ...Object.values(consts)]),
  };
}

/** Largest |a − b| / (1e-6 + |b|) over two records of arrays. */
export function maxRelDiff(
  got: Record<string, ArrayLike<number>>,
  want: Record<string, ArrayLike<number>>,
): number {
  let worst = 0;
  for (const [k, b] of Object.entries(want)) {
    const a = got[k];
    for (let i = 0; i < b.length; i++)
      worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1e-6 + Math.abs(b[i])));
  }
  return worst;
}

/** Bitwise equality of two records of float arrays. */
export function sameBits(
  got: Record<string, ArrayLike<number>>,
  want: Record<string, ArrayLike<number>>,
): boolean {
  return Object.keys(want).every(
    (k) => got[k].length === want[k].length && Array.from(want[k]).every((v, i) => Object.is(v, got[k][i])),
  );
}

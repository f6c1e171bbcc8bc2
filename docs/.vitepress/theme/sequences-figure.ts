/**
 * The three sequences of Schedule-Free SGD on a noisy 2-D quadratic, computed by
 * `@schedulefree/core` itself when the page is built (and again, identically, in the browser) and
 * drawn as SVG: z takes the SGD steps, x averages them, y sits between the two and is where the
 * gradient is taken.
 */
import { SGDScheduleFree } from '@schedulefree/core';
import { defineComponent, h } from 'vue';

/** f(u, v) = ½(u² + κv²): a valley four times steeper across than along. */
const KAPPA = 4;
const BETA = 0.9;
const LR = 0.1;
const STEPS = 100;
const NOISE = 2;
const WARMUP = 20;
const START = [-4, 2];

interface Paths {
  y: number[][];
  z: number[][];
  x: number[][];
}

/** Runs SF-SGD with seeded gradient noise and records y, z and x after every step. */
function simulate(): Paths {
  let seed = 7;
  const uniform = () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  const w = Float64Array.from(START);
  const opt = new SGDScheduleFree({ w }, { lr: LR, momentum: BETA, warmupSteps: WARMUP });
  opt.train(); // w now holds y
  const paths: Paths = { y: [START], z: [START], x: [START] };
  for (let t = 0; t < STEPS; t++) {
    opt.step({ w: Float64Array.of(w[0] + NOISE * gaussian(), KAPPA * w[1] + NOISE * gaussian()) });
    const x = opt.evalParams().w;
    paths.y.push([w[0], w[1]]);
    paths.x.push([x[0], x[1]]);
    // y = βx + (1 − β)z, so z = (y − βx)/(1 − β).
    paths.z.push([(w[0] - BETA * x[0]) / (1 - BETA), (w[1] - BETA * x[1]) / (1 - BETA)]);
  }
  return paths;
}

const WIDTH = 640;
const HEIGHT = 360;
const U = [-5, 3];
const V = [-2.25, 3.25];
const px = ([u, v]: number[]) => [
  ((u - U[0]) / (U[1] - U[0])) * WIDTH,
  (1 - (v - V[0]) / (V[1] - V[0])) * HEIGHT,
];
const polyline = (points: number[][]) =>
  points
    .map(px)
    .map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`)
    .join(' ');

export const SequencesFigure = defineComponent({
  name: 'SequencesFigure',
  setup() {
    const paths = simulate();
    const scaleU = WIDTH / (U[1] - U[0]);
    const scaleV = HEIGHT / (V[1] - V[0]);
    const [cx, cy] = px([0, 0]);
    const levels = [0.5, 2, 4.5, 8, 12.5, 18];
    const line = (points: number[][], color: string, width: number, dash?: string) =>
      h('polyline', {
        points: polyline(points),
        fill: 'none',
        stroke: color,
        'stroke-width': width,
        'stroke-dasharray': dash,
        'stroke-linejoin': 'round',
      });
    const end = (points: number[][], color: string) => {
      const [a, b] = px(points.at(-1)!);
      return h('circle', { cx: a, cy: b, r: 5, fill: color });
    };
    const legend = [
      ['z', 'var(--sf-z)', 'the SGD steps (base iterate)'],
      ['y', 'var(--sf-y)', 'y = βx + (1−β)z: where gradients are taken'],
      ['x', 'var(--sf-x)', 'the running average of z: evaluate here'],
    ];
    return () =>
      h('figure', { class: 'sf-figure' }, [
        h(
          'svg',
          {
            viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
            role: 'img',
            'aria-label': 'Paths of the sequences z, y and x of Schedule-Free SGD on a noisy quadratic',
          },
          [
            ...levels.map((c) =>
              h('ellipse', {
                cx,
                cy,
                rx: Math.sqrt(2 * c) * scaleU,
                ry: Math.sqrt((2 * c) / KAPPA) * scaleV,
                fill: 'none',
                stroke: 'var(--vp-c-divider)',
              }),
            ),
            h('circle', { cx, cy, r: 3, fill: 'var(--vp-c-text-2)' }),
            line(paths.x, 'var(--sf-x)', 5),
            line(paths.z, 'var(--sf-z)', 1, '4 3'),
            line(paths.y, 'var(--sf-y)', 1.5),
            end(paths.z, 'var(--sf-z)'),
            end(paths.x, 'var(--sf-x)'),
            end(paths.y, 'var(--sf-y)'),
            ...legend.map(([name, color, text], i) =>
              h('g', { transform: `translate(${WIDTH - 330}, ${22 + 20 * i})` }, [
                h('rect', { x: -8, y: -13, width: 330, height: 20, fill: 'var(--vp-c-bg)', opacity: 0.85 }),
                h('line', { x1: 0, y1: -4, x2: 22, y2: -4, stroke: color, 'stroke-width': 3 }),
                h('text', { x: 30, y: 0, 'font-size': 13, fill: 'var(--vp-c-text-1)' }, `${name}: ${text}`),
              ]),
            ),
          ],
        ),
        h(
          'figcaption',
          {},
          `Schedule-Free SGD (lr ${LR}, β ${BETA}, ${WARMUP} warmup steps) for ${STEPS} steps on ½(u² + ${KAPPA}v²) with noisy gradients, computed by @schedulefree/core. The ellipses are level sets; the minimum is at the centre.`,
        ),
      ]);
  },
});

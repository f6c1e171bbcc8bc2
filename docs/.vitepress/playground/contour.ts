/**
 * The Rosenbrock valley as a filled contour plot on a canvas, with a run's paths drawn over it:
 * y (where gradients are taken), z (the base optimizer's iterate) and x (the average, evaluated).
 */
import { ROSENBROCK, rosenbrock } from './tasks';

/** The plotted window of (u, v). */
const U = [-2, 2] as const;
const V = [-1, 3] as const;

export interface PathSet {
  label: string;
  color: string;
  width: number;
  dash?: number[];
  points: number[][];
}

export class ContourPlot {
  private readonly canvas: HTMLCanvasElement;
  private background: ImageData | undefined;

  constructor(container: HTMLElement) {
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'pg-contour-canvas';
    this.canvas.setAttribute('role', 'img');
    this.canvas.setAttribute(
      'aria-label',
      'Contour plot of the Rosenbrock function with the optimizer paths',
    );
    container.append(this.canvas);
  }

  /** Draws the level sets and then the given paths. */
  draw(paths: PathSet[]): void {
    const size = Math.min(440, Math.max(240, this.canvas.parentElement?.clientWidth ?? 440));
    const scale = devicePixelRatio || 1;
    const pixels = Math.round(size * scale);
    if (this.canvas.width !== pixels) {
      this.canvas.width = pixels;
      this.canvas.height = pixels;
      this.canvas.style.width = `${size}px`;
      this.canvas.style.height = `${size}px`;
      this.background = undefined;
    }
    const ctx = this.canvas.getContext('2d')!;
    this.background ??= levels(ctx, pixels);
    ctx.putImageData(this.background, 0, 0);
    const toCanvas = ([u, v]: number[]) => [
      ((u - U[0]) / (U[1] - U[0])) * pixels,
      (1 - (v - V[0]) / (V[1] - V[0])) * pixels,
    ];
    ctx.lineJoin = 'round';
    for (const path of paths) {
      if (path.points.length === 0) continue;
      ctx.strokeStyle = path.color;
      ctx.lineWidth = path.width * scale;
      ctx.setLineDash((path.dash ?? []).map((d) => d * scale));
      ctx.beginPath();
      path.points.forEach((p, i) => {
        const [cx, cy] = toCanvas(p);
        if (i === 0) ctx.moveTo(cx, cy);
        else ctx.lineTo(cx, cy);
      });
      ctx.stroke();
      const [ex, ey] = toCanvas(path.points.at(-1)!);
      ctx.setLineDash([]);
      ctx.fillStyle = path.color;
      ctx.beginPath();
      ctx.arc(ex, ey, 3.5 * scale, 0, 2 * Math.PI);
      ctx.fill();
    }
    // Start and minimum.
    ctx.setLineDash([]);
    const mark = (p: number[], text: string) => {
      const [cx, cy] = toCanvas(p);
      ctx.fillStyle = '#111';
      ctx.beginPath();
      ctx.arc(cx, cy, 4 * scale, 0, 2 * Math.PI);
      ctx.fill();
      ctx.font = `${12 * scale}px system-ui, sans-serif`;
      ctx.fillText(text, cx + 7 * scale, cy - 6 * scale);
    };
    mark([...ROSENBROCK.start], 'start');
    mark([ROSENBROCK.a, ROSENBROCK.a ** 2], 'minimum');
  }
}

/** Bands of log f, light to dark towards the minimum, with a line where the band changes. */
function levels(ctx: CanvasRenderingContext2D, pixels: number): ImageData {
  const image = ctx.createImageData(pixels, pixels);
  const band = new Int16Array(pixels * pixels);
  for (let row = 0; row < pixels; row++) {
    const v = V[1] - ((row + 0.5) / pixels) * (V[1] - V[0]);
    for (let col = 0; col < pixels; col++) {
      const u = U[0] + ((col + 0.5) / pixels) * (U[1] - U[0]);
      band[row * pixels + col] = Math.floor(2 * Math.log10(rosenbrock(u, v) + 1e-3));
    }
  }
  for (let i = 0; i < band.length; i++) {
    const col = i % pixels;
    const edge =
      (col + 1 < pixels && band[i + 1] !== band[i]) ||
      (i + pixels < band.length && band[i + pixels] !== band[i]);
    // Pale bands, a little darker towards the valley floor (about 10^-3) than on the walls (10^3.5),
    // so the paths drawn over them stay readable.
    const t = Math.min(1, Math.max(0, (band[i] + 6) / 13));
    const shade = edge ? 0.8 : 1;
    image.data[4 * i] = (196 + 56 * t) * shade;
    image.data[4 * i + 1] = (206 + 47 * t) * shade;
    image.data[4 * i + 2] = (222 + 33 * t) * shade;
    image.data[4 * i + 3] = 255;
  }
  return image;
}

/**
 * The live loss chart: every run of the session on one uPlot chart, with a dashed "stop anytime"
 * marker at the step each scheduled run was told would be its last.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { RunRecord } from './runner';

export function runLabel(run: RunRecord): string {
  const horizon = run.kind.schedule ? `, T=${run.hp.horizon}` : '';
  return `#${run.id} ${run.kind.label} (lr ${run.hp.lr}${horizon}) · ${run.backend.label}`;
}

export class LossChart {
  private plot: uPlot | undefined;
  private runs: RunRecord[] = [];
  private seriesKey = '';
  private logScale = true;
  private readonly resize: ResizeObserver;

  constructor(private readonly container: HTMLElement) {
    this.resize = new ResizeObserver(() => this.plot?.setSize(this.size()));
    this.resize.observe(container);
  }

  setLogScale(log: boolean): void {
    this.logScale = log;
    this.seriesKey = '';
    this.update(this.runs);
  }

  /** Redraws with these runs; rebuilds the chart only when the set of runs changed. */
  update(runs: RunRecord[]): void {
    this.runs = runs;
    const key = runs.map((r) => r.id).join(',');
    const data = this.alignedData();
    if (key !== this.seriesKey || !this.plot) {
      this.seriesKey = key;
      this.plot?.destroy();
      this.plot = new uPlot(this.options(), data, this.container);
    } else {
      this.plot.setData(data);
    }
  }

  destroy(): void {
    this.resize.disconnect();
    this.plot?.destroy();
  }

  private size() {
    return { width: Math.max(280, this.container.clientWidth), height: 340 };
  }

  /** One x axis for all runs (the union of their evaluation steps); gaps where a run has no point. */
  private alignedData(): uPlot.AlignedData {
    const steps = [...new Set(this.runs.flatMap((r) => r.evalSteps))].sort((a, b) => a - b);
    const index = new Map(steps.map((s, i) => [s, i]));
    const series = this.runs.map((run) => {
      const values: (number | null)[] = new Array(steps.length).fill(null);
      run.evalSteps.forEach((s, i) => {
        const loss = run.losses[i];
        values[index.get(s)!] = Number.isFinite(loss) && (!this.logScale || loss > 0) ? loss : null;
      });
      return values;
    });
    return [steps, ...series] as uPlot.AlignedData;
  }

  private options(): uPlot.Options {
    const axisColor = getComputedStyle(this.container).color || '#555';
    return {
      ...this.size(),
      scales: { x: { time: false }, y: this.logScale ? { distr: 3, log: 10 } : { distr: 1 } },
      axes: [
        { label: 'step', stroke: axisColor, grid: { stroke: 'rgba(128,128,128,0.15)' } },
        {
          label: 'training loss (at x for Schedule-Free)',
          stroke: axisColor,
          size: 60,
          grid: { stroke: 'rgba(128,128,128,0.15)' },
        },
      ],
      series: [
        { label: 'step' },
        ...this.runs.map((run) => ({
          label: runLabel(run),
          stroke: run.color,
          width: run.kind.scheduleFree ? 2.5 : 1.75,
          dash: run.kind.scheduleFree ? undefined : [6, 3],
          spanGaps: true,
          points: { show: false },
        })),
      ],
      // The table of runs below the chart is the legend (same colours, more detail).
      legend: { show: false },
      hooks: { draw: [(u) => this.drawHorizons(u)] },
    };
  }

  /** A dashed line at each scheduled run's horizon T: where it had to be told it would stop. */
  private drawHorizons(u: uPlot): void {
    const { ctx } = u;
    const { top, height } = u.bbox;
    const scale = devicePixelRatio || 1;
    ctx.save();
    ctx.font = `${11 * scale}px system-ui, sans-serif`;
    ctx.setLineDash([4 * scale, 4 * scale]);
    this.runs
      .filter((run) => run.kind.schedule)
      .forEach((run, i) => {
        const x = u.valToPos(run.hp.horizon, 'x', true);
        if (!Number.isFinite(x) || x < u.bbox.left || x > u.bbox.left + u.bbox.width + 1) return;
        ctx.strokeStyle = run.color;
        ctx.fillStyle = run.color;
        ctx.lineWidth = 1.5 * scale;
        ctx.beginPath();
        ctx.moveTo(x, top);
        ctx.lineTo(x, top + height);
        ctx.stroke();
        // Labels near the right edge go to the left of their line.
        const flip = x > u.bbox.left + 0.7 * u.bbox.width;
        ctx.textAlign = flip ? 'right' : 'left';
        const text = `#${run.id} told T=${run.hp.horizon}`;
        ctx.fillText(text, x + (flip ? -4 : 4) * scale, top + (14 + 14 * i) * scale);
      });
    ctx.restore();
  }
}

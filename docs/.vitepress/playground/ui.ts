/**
 * The playground's page: controls, live chart, contour plot and the table of runs. Plain DOM, so the
 * page's framework only has to mount it (see theme/playground.ts).
 */
import {
  type BackendId,
  type BackendInfo,
  backendInfo,
  backends,
  detectFeatures,
  type Feature,
} from './backends';
import { LossChart } from './chart';
import { ContourPlot, type PathSet } from './contour';
import { loadDataset } from './load-data';
import { defaultsFor, type Hyperparameters, type OptimizerId, optimizerKind, optimizers } from './optimizers';
import { type RunRecord, stepsPerSecond, train } from './runner';
import { type TaskId, tasks } from './tasks';

const palette = ['#3a7bd5', '#e8590c', '#2b8a3e', '#ae3ec9', '#f08c00', '#0c8599', '#c2255c', '#5c940d'];

/** The hyperparameter inputs, in the order shown. */
const fields: ReadonlyArray<{
  key: keyof Hyperparameters;
  label: string;
  step: string;
  min: number;
  title: string;
}> = [
  { key: 'lr', label: 'learning rate', step: 'any', min: 0, title: 'Peak learning rate' },
  {
    key: 'beta',
    label: 'β (momentum)',
    step: 'any',
    min: 0,
    title: "Schedule-Free interpolation β (SF-SGD's momentum, SF-AdamW's betas[0]); Adam's β1 for AdamW",
  },
  { key: 'weightDecay', label: 'weight decay', step: 'any', min: 0, title: 'Decoupled weight decay' },
  { key: 'warmupSteps', label: 'warmup steps', step: '1', min: 0, title: 'Linear warmup from 0' },
  { key: 'steps', label: 'steps', step: '1', min: 1, title: 'How long this run trains' },
  {
    key: 'horizon',
    label: 'told horizon T',
    step: '1',
    min: 1,
    title: 'The length a scheduled run is told in advance: its decay reaches 0 at step T',
  },
  { key: 'batchSize', label: 'batch size', step: '1', min: 1, title: 'Training rows per step' },
  { key: 'seed', label: 'seed', step: '1', min: 0, title: 'Initial weights and batch order' },
  {
    key: 'evalEvery',
    label: 'evaluate every',
    step: '1',
    min: 1,
    title: 'Steps between two evaluations of the training loss',
  },
];

type Attributes = Record<string, string | number | boolean | undefined>;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    node.setAttribute(name, value === true ? '' : String(value));
  }
  node.append(...children);
  return node;
}

export interface Playground {
  dispose(): void;
}

export function mountPlayground(root: HTMLElement): Playground {
  root.replaceChildren();
  root.classList.add('pg');
  root.dataset.state = 'loading';

  const taskSelect = el(
    'select',
    { 'data-testid': 'task', 'aria-label': 'Task' },
    ...Object.values(tasks).map((t) => el('option', { value: t.id }, t.label)),
  );
  const backendSelect = el(
    'select',
    { 'data-testid': 'backend', 'aria-label': 'Backend' },
    ...backends.map((b) => el('option', { value: b.id }, b.label)),
  );
  const optimizerSelect = el(
    'select',
    { 'data-testid': 'optimizer', 'aria-label': 'Optimizer' },
    ...optimizers.map((o) => el('option', { value: o.id }, o.label)),
  );
  const inputs = new Map<keyof Hyperparameters, HTMLInputElement>();
  const fieldLabels = new Map<keyof Hyperparameters, HTMLElement>();
  const grid = el('div', { class: 'pg-grid' });
  for (const field of fields) {
    const input = el('input', {
      type: 'number',
      step: field.step,
      min: field.min,
      'data-testid': `hp-${field.key}`,
      title: field.title,
    });
    inputs.set(field.key, input);
    const label = el('label', { class: 'pg-field', title: field.title }, el('span', {}, field.label), input);
    fieldLabels.set(field.key, label);
    grid.append(label);
  }
  const runButton = el('button', { class: 'pg-run', 'data-testid': 'run', type: 'button' }, 'Train');
  const stopButton = el('button', { 'data-testid': 'stop', type: 'button', disabled: true }, 'Stop');
  const clearButton = el('button', { 'data-testid': 'clear', type: 'button' }, 'Clear runs');
  const logScale = el('input', { type: 'checkbox', checked: true, 'data-testid': 'log-scale' });
  const progress = el('progress', { max: 1, value: 0, 'data-testid': 'progress' });
  const statusText = el('span', { class: 'pg-status', 'data-testid': 'status', 'aria-live': 'polite' });
  const rateText = el('span', { class: 'pg-rate', 'data-testid': 'rate' });
  const notices = el('div', { class: 'pg-notices', 'data-testid': 'notices' });
  const errorBox = el('div', { class: 'pg-error', 'data-testid': 'error', role: 'alert', hidden: true });
  const taskSummary = el('p', { class: 'pg-summary' });
  const backendHow = el('p', { class: 'pg-summary' });
  const chartBox = el('div', { class: 'pg-chart', 'data-testid': 'chart' });
  const contourBox = el('div', { class: 'pg-contour', 'data-testid': 'contour' });
  const contourLegend = el('p', { class: 'pg-legend' });
  const contourFigure = el('figure', { class: 'pg-contour-figure' }, contourBox, contourLegend);
  const runsBody = el('tbody');
  const runsTable = el(
    'table',
    { class: 'pg-runs', 'data-testid': 'runs' },
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        ...[
          'run',
          'optimizer',
          'backend',
          'steps',
          'training loss: start → end',
          'test acc.',
          'steps/s',
          'status',
        ].map((h) => el('th', {}, h)),
      ),
    ),
    runsBody,
  );

  root.append(
    el(
      'div',
      { class: 'pg-controls' },
      el('label', { class: 'pg-field' }, el('span', {}, 'task'), taskSelect),
      el('label', { class: 'pg-field' }, el('span', {}, 'backend'), backendSelect),
      el('label', { class: 'pg-field' }, el('span', {}, 'optimizer'), optimizerSelect),
    ),
    taskSummary,
    backendHow,
    notices,
    grid,
    el(
      'div',
      { class: 'pg-actions' },
      runButton,
      stopButton,
      clearButton,
      el('label', { class: 'pg-check' }, logScale, ' log scale'),
    ),
    el('div', { class: 'pg-progress' }, progress, statusText, rateText),
    errorBox,
    chartBox,
    contourFigure,
    el('div', { class: 'pg-table-wrap' }, runsTable),
  );

  const chart = new LossChart(chartBox);
  const contour = new ContourPlot(contourBox);
  const runs: RunRecord[] = [];
  let nextId = 1;
  let active: RunRecord | undefined;
  let stopReason: string | undefined;
  let unavailable = new Map<BackendId, string>();
  let redrawQueued = false;
  let disposed = false;

  const task = () => tasks[taskSelect.value as TaskId];
  const kind = () => optimizerKind(optimizerSelect.value as OptimizerId);
  const backend = () => backendInfo(backendSelect.value as BackendId);

  function showError(message: string | undefined): void {
    errorBox.hidden = !message;
    errorBox.textContent = message ?? '';
  }

  function applyDefaults(): void {
    const hp = defaultsFor(kind(), task().id);
    for (const [key, input] of inputs) input.value = String(hp[key]);
    for (const [key, label] of fieldLabels) label.hidden = kind().unused?.includes(key) ?? false;
    fieldLabels.get('horizon')!.hidden = !kind().schedule;
    fieldLabels.get('batchSize')!.hidden = !task().dataset;
    taskSummary.textContent = task().summary;
    contourFigure.hidden = task().id !== 'rosenbrock';
    drawContour();
  }

  function describeBackend(): void {
    backendHow.textContent = `${backend().label}: ${backend().how}.`;
    // Optimizers this backend's adapter does not have are offered, but disabled, with the reason.
    for (const option of optimizerSelect.options) {
      const kind = optimizerKind(option.value as OptimizerId);
      const missing = !backend().families.includes(kind.family);
      option.disabled = missing;
      option.textContent = missing ? `${kind.label} (not in this adapter yet)` : kind.label;
    }
    if (optimizerSelect.selectedOptions[0]?.disabled) {
      optimizerSelect.value = 'sf-adamw';
      applyDefaults();
    }
  }

  function readHyperparameters(): Hyperparameters | string {
    const hp = {} as Hyperparameters;
    for (const field of fields) {
      const value = Number(inputs.get(field.key)!.value);
      const integer = field.step === '1';
      if (!Number.isFinite(value) || value < field.min || (integer && !Number.isInteger(value))) {
        return `${field.label} must be ${integer ? 'a whole number' : 'a number'} ≥ ${field.min}.`;
      }
      hp[field.key] = value;
    }
    if (!kind().schedule) hp.horizon = hp.steps;
    return hp;
  }

  function scheduleRedraw(): void {
    if (redrawQueued || disposed) return;
    redrawQueued = true;
    requestAnimationFrame(() => {
      redrawQueued = false;
      if (!disposed) redraw();
    });
  }

  function redraw(): void {
    chart.update(runs);
    renderTable();
    drawContour();
    if (active) {
      progress.value = active.stepsDone / active.hp.steps;
      statusText.textContent = `Run #${active.id}: step ${active.stepsDone} of ${active.hp.steps} on ${active.backend.label}`;
      rateText.textContent = `${stepsPerSecond(active).toFixed(0)} steps/s`;
    }
  }

  function renderTable(): void {
    runsBody.replaceChildren(
      ...runs.map((run) => {
        const first = run.losses[0];
        const last = run.losses.at(-1);
        const rate = stepsPerSecond(run);
        const row = el(
          'tr',
          {
            'data-run-id': run.id,
            'data-status': run.status,
            'data-backend': run.backend.id,
            'data-optimizer': run.kind.id,
            'data-steps': run.stepsDone,
            'data-first-loss': first,
            'data-last-loss': last,
            'data-steps-per-second': rate.toFixed(2),
          },
          el('td', {}, el('span', { class: 'pg-swatch', style: `background:${run.color}` }), `#${run.id}`),
          el('td', {}, run.kind.schedule ? `${run.kind.label}, T=${run.hp.horizon}` : run.kind.label),
          el('td', {}, run.backend.label),
          el('td', {}, String(run.stepsDone)),
          el('td', {}, first === undefined ? '' : `${first.toPrecision(4)} → ${last?.toPrecision(4)}`),
          el('td', {}, run.testAccuracy === undefined ? '' : `${(100 * run.testAccuracy).toFixed(1)} %`),
          el('td', {}, rate ? rate.toFixed(0) : ''),
          el('td', { title: run.message ?? '' }, run.message ? `${run.status}: ${run.message}` : run.status),
        );
        return row;
      }),
    );
  }

  /** The latest 2-D run's paths: y, z and x for Schedule-Free, the iterate itself otherwise. */
  function drawContour(): void {
    if (task().id !== 'rosenbrock') return;
    const run = [...runs].reverse().find((r) => r.task.id === 'rosenbrock' && r.path.x.length > 0);
    const paths: PathSet[] = [];
    if (run?.kind.scheduleFree) {
      paths.push(
        { label: 'z', color: 'rgba(70,70,70,0.75)', width: 1, dash: [3, 3], points: run.path.z },
        { label: 'y', color: '#1c7ed6', width: 1.5, points: run.path.y },
        { label: 'x', color: '#e8590c', width: 3, points: run.path.x },
      );
      contourLegend.innerHTML = '';
      contourLegend.append(
        `Run #${run.id} (${run.kind.label}): `,
        el('strong', { style: 'color:#1c7ed6' }, 'y'),
        ' where gradients are taken, ',
        el('span', { class: 'pg-dashed' }, 'z'),
        ' the base steps, ',
        el('strong', { style: 'color:#e8590c' }, 'x'),
        ' their average, where the loss is evaluated.',
      );
    } else if (run) {
      paths.push({ label: 'w', color: run.color, width: 2, points: run.path.x });
      contourLegend.textContent = `Run #${run.id} (${run.kind.label}, T=${run.hp.horizon}): the iterate.`;
    } else {
      contourLegend.textContent = 'Train on this task to draw the paths of y, z and x.';
    }
    contour.draw(paths);
  }

  function setRunning(running: boolean): void {
    root.dataset.state = running ? 'running' : 'idle';
    runButton.disabled = running;
    stopButton.disabled = !running;
  }

  async function startRun(): Promise<void> {
    if (active) return;
    showError(undefined);
    const info = backend();
    const reason = unavailable.get(info.id);
    if (reason) return showError(`${info.label} is not available here: ${reason}.`);
    if (!info.families.includes(kind().family)) {
      return showError(
        `${kind().label} is not in the ${info.label} adapter yet; choose typed arrays (core).`,
      );
    }
    const hp = readHyperparameters();
    if (typeof hp === 'string') return showError(hp);
    const currentTask = task();
    const run: RunRecord = {
      id: nextId,
      task: currentTask,
      backend: info,
      kind: kind(),
      hp,
      color: palette[(nextId - 1) % palette.length],
      status: 'starting',
      stepsDone: 0,
      evalSteps: [],
      losses: [],
      path: { y: [], z: [], x: [] },
      busyMs: 0,
    };
    nextId++;
    runs.push(run);
    active = run;
    stopReason = undefined;
    setRunning(true);
    progress.value = 0;
    rateText.textContent = '';
    statusText.textContent = `Run #${run.id}: starting ${info.label}…`;
    redraw();
    let driver: Awaited<ReturnType<BackendInfo['create']>> | undefined;
    try {
      const data = currentTask.dataset ? await loadDataset(currentTask.dataset) : undefined;
      driver = await info.create({ task: currentTask, data, kind: run.kind, hp });
      await train(run, driver, {
        stopRequested: () => stopReason !== undefined || disposed,
        progress: scheduleRedraw,
      });
      if (run.status === 'stopped' && stopReason) run.message = stopReason;
    } catch (error) {
      run.status = 'failed';
      run.message = error instanceof Error ? error.message : String(error);
      showError(`Run #${run.id} on ${info.label} failed: ${run.message}`);
    } finally {
      try {
        await driver?.dispose();
      } catch {
        // The run is over either way; a failed cleanup must not hide its result.
      }
      active = undefined;
      if (!disposed) {
        setRunning(false);
        redraw();
        const rate = stepsPerSecond(run);
        statusText.textContent = `Run #${run.id} ${run.status} after ${run.stepsDone} steps on ${info.label}.`;
        rateText.textContent = rate ? `${rate.toFixed(0)} steps/s` : '';
        progress.value = run.stepsDone / run.hp.steps;
      }
    }
  }

  function stop(reason: string): void {
    if (active) stopReason = reason;
  }

  let shownTask = taskSelect.value;
  taskSelect.addEventListener('change', () => {
    if (taskSelect.value === shownTask) return;
    shownTask = taskSelect.value;
    // Losses of different tasks do not share a scale: a new task starts a new chart.
    stop('the task was changed');
    runs.splice(0, runs.length);
    applyDefaults();
    redraw();
  });
  optimizerSelect.addEventListener('change', applyDefaults);
  let shownBackend = backendSelect.value;
  backendSelect.addEventListener('change', () => {
    if (backendSelect.value === shownBackend) return;
    shownBackend = backendSelect.value;
    describeBackend();
    stop(`the backend was switched to ${backend().label}`);
    const reason = unavailable.get(backend().id);
    showError(reason ? `${backend().label} is not available here: ${reason}.` : undefined);
  });
  runButton.addEventListener('click', () => void startRun());
  stopButton.addEventListener('click', () => stop('stopped by you'));
  clearButton.addEventListener('click', () => {
    if (active) return;
    runs.splice(0, runs.length);
    redraw();
  });
  logScale.addEventListener('change', () => chart.setLogScale(logScale.checked));

  applyDefaults();
  describeBackend();
  redraw();
  detectFeatures().then((features) => {
    if (disposed) return;
    unavailable = new Map(
      backends.filter((b) => b.needs && features[b.needs]).map((b) => [b.id, features[b.needs as Feature]!]),
    );
    for (const option of backendSelect.options) {
      const reason = unavailable.get(option.value as BackendId);
      if (reason) {
        option.disabled = true;
        option.textContent = `${backendInfo(option.value as BackendId).label} (not available here)`;
      }
    }
    const byReason = new Map<string, string[]>();
    for (const [id, reason] of unavailable)
      byReason.set(reason, [...(byReason.get(reason) ?? []), backendInfo(id).label]);
    notices.replaceChildren(
      ...[...byReason].map(([reason, labels]) =>
        el(
          'p',
          { class: 'pg-notice', 'data-testid': 'unavailable' },
          `Not available: ${labels.join(', ')}, because ${reason}.`,
        ),
      ),
    );
    root.dataset.state = 'idle';
    root.dataset.unavailable = [...unavailable.keys()].join(' ');
  });

  return {
    dispose() {
      disposed = true;
      stop('the page was left');
      chart.destroy();
    },
  };
}

/** Terminal output for the experiments: progress bars on stderr and aligned tables on stdout. */

/** Where progress goes; tests pass a silent reporter. */
export interface Reporter {
  /** Starts a task of `total` units; returns a function that advances it. */
  task(label: string, total: number): Task;
  /** A line of text (tables, summaries). */
  log(text: string): void;
}

export interface Task {
  tick(units?: number): void;
  done(note?: string): void;
}

const BAR = 28;

function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Progress bars on a terminal (redrawn in place), one line per task elsewhere (CI logs). */
export function consoleReporter(stream: NodeJS.WriteStream = process.stderr): Reporter {
  const tty = Boolean(stream.isTTY);
  return {
    task(label, total) {
      const start = performance.now();
      let done = 0;
      let lastDraw = 0;
      const draw = (final: boolean, note = '') => {
        const fraction = total > 0 ? Math.min(done / total, 1) : 1;
        const filled = Math.round(fraction * BAR);
        const bar = `${'█'.repeat(filled)}${'░'.repeat(BAR - filled)}`;
        const line = `${label.padEnd(34)} ${bar} ${String(Math.round(100 * fraction)).padStart(3)}%  ${formatSeconds(performance.now() - start)}${note ? `  ${note}` : ''}`;
        if (tty) stream.write(`\r${line}${final ? '\n' : ''}`);
        else if (final) stream.write(`${line}\n`);
      };
      return {
        tick(units = 1) {
          done += units;
          const now = performance.now();
          if (tty && now - lastDraw > 100) {
            lastDraw = now;
            draw(false);
          }
        },
        done(note) {
          done = total;
          draw(true, note);
        },
      };
    },
    log: (text) => console.log(text),
  };
}

/** A reporter that prints nothing (tests). */
export const silentReporter: Reporter = {
  task: () => ({ tick() {}, done() {} }),
  log() {},
};

/** Lays out rows as an aligned text table; numbers are right-aligned. */
export function formatTable(
  headers: readonly string[],
  rows: ReadonlyArray<ReadonlyArray<string | number>>,
): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? formatNumber(c) : c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const numeric = headers.map((_, i) => rows.every((r) => typeof r[i] === 'number'));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '─'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

/** A compact rendering of a number for tables: 4 significant digits, powers of two as 2^k. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const abs = Math.abs(v);
  if (abs >= 1e5 || abs < 1e-3) return v.toExponential(2);
  return String(+v.toPrecision(4));
}

/**
 * `2^k` (or `2^(k/2)`) for a learning rate on a power-of-two or √2 grid, else the number. The
 * tolerance admits values read back from JSON, which keeps 6 significant digits.
 */
export function formatLr(lr: number): string {
  const k = Math.log2(lr);
  if (Math.abs(k - Math.round(k)) < 1e-5) return `2^${Math.round(k)}`;
  if (Math.abs(2 * k - Math.round(2 * k)) < 1e-5) return `2^${Math.round(2 * k) / 2}`;
  return formatNumber(lr);
}

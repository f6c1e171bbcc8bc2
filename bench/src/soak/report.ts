/** Text tables of a soak run: the samples of each phase and the verdict on each metric. */
import type { PhaseResult } from './loop.js';
import type { MetricVerdict } from './verdict.js';

const MiB = 1024 * 1024;
const BYTE_METRICS = new Set(['rss', 'heapUsed', 'heapTotal', 'external', 'arrayBuffers']);

/** What a backend's child process reports back. */
export interface BackendResult {
  backend: string;
  summary?: string;
  status: 'ran' | 'skipped' | 'error';
  /** Why it was skipped, or the error. */
  message?: string;
  counts?: { steps: number; cycles: number; fits: number };
  phases: PhaseResult[];
  wallMs: number;
}

const mib = (bytes: number) => (bytes / MiB).toFixed(1);

function formatValue(metric: string, value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return BYTE_METRICS.has(metric) ? `${mib(value)} MiB` : String(Math.round(value * 1e6) / 1e6);
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) =>
    r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '),
  );
}

export function phaseTable(phase: PhaseResult): string[] {
  const counterNames = [...new Set(phase.samples.flatMap((s) => Object.keys(s.counters)))];
  const header = [
    phase.unit,
    'time s',
    'rss MiB',
    'heap MiB',
    'heapTotal MiB',
    'external MiB',
    'arrayBuffers MiB',
    ...counterNames,
  ];
  const rows = phase.samples.map((s, i) => [
    `${i === phase.steadyFrom ? '▶ ' : '  '}${s.at}`,
    (s.elapsedMs / 1000).toFixed(1),
    mib(s.rss),
    mib(s.heapUsed),
    mib(s.heapTotal),
    mib(s.external),
    mib(s.arrayBuffers),
    ...counterNames.map((n) => String(s.counters[n] ?? '-')),
  ]);
  return table([header, ...rows]);
}

export function verdictLines(verdicts: readonly MetricVerdict[]): string[] {
  const rows = verdicts.map((v) => [
    v.metric,
    v.kind,
    formatValue(v.metric, v.reference),
    formatValue(v.metric, v.final),
    formatValue(v.metric, v.limit),
    Number.isFinite(v.slopePerUnit) ? v.slopePerUnit.toPrecision(3) : '-',
    v.pass ? 'ok' : 'GREW',
  ]);
  return table([['metric', 'rule', 'steady start', 'end', 'allowed', 'trend/unit', ''], ...rows]);
}

export function backendReport(result: BackendResult): string {
  const lines: string[] = [];
  const wall = `${(result.wallMs / 1000).toFixed(1)} s`;
  lines.push(`== ${result.backend}${result.summary ? `: ${result.summary}` : ''}`);
  if (result.status !== 'ran') {
    lines.push(`   ${result.status.toUpperCase()}: ${result.message ?? ''}`);
    return lines.join('\n');
  }
  for (const phase of result.phases) {
    lines.push('');
    lines.push(
      `-- ${phase.name}: ${phase.total} ${phase.unit}s in ${(phase.wallMs / 1000).toFixed(1)} s; ` +
        `steady state (▶) from ${phase.unit} ${phase.samples[phase.steadyFrom].at}`,
    );
    lines.push(...phaseTable(phase).map((l) => `   ${l}`));
    lines.push('');
    lines.push(...verdictLines(phase.verdicts).map((l) => `   ${l}`));
    lines.push(`   ${phase.name}: ${phase.pass ? 'PASS' : 'FAIL'}`);
  }
  lines.push('');
  lines.push(`${result.backend}: ${result.phases.every((p) => p.pass) ? 'PASS' : 'FAIL'} (${wall})`);
  return lines.join('\n');
}

/** One line per failure, naming the backend, phase and metric. */
export function failureLines(result: BackendResult): string[] {
  if (result.status === 'error') return [`${result.backend}: error: ${result.message}`];
  return result.phases.flatMap((p) =>
    p.verdicts.filter((v) => !v.pass).map((v) => `${result.backend} ${p.name}: ${v.metric} ${v.reason}`),
  );
}

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundledData } from '../data.js';
import { runConvex } from '../experiments/convex.js';
import { runQuadratics } from '../experiments/quadratics.js';
import { runRobustness } from '../experiments/robustness.js';
import { writeJson } from '../lib/io.js';
import { quadraticsSpec, renderSvg } from './plots.js';
import { loadResults, resultFile, writeReport } from './report.js';
import { tableToHtml, tableToMarkdown } from './tables.js';

const dir = mkdtempSync(join(tmpdir(), 'sf-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('report', () => {
  const quadratics = runQuadratics({
    problems: 2,
    steps: 50,
    betas: [0, 0.9],
    lrExponents: [0, 3],
    bootstrapReplicates: 50,
  });

  it('renders a Vega-Lite figure to SVG in Node', async () => {
    const svg = await renderSvg(quadraticsSpec(quadratics));
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('<path');
    expect(svg).toContain('B3');
  });

  it('writes report.html, summary.md and every figure from the JSON in a folder', async () => {
    writeJson(join(dir, resultFile.quadratics), quadratics);
    const convex = runConvex(bundledData('iris.csv'), {
      seeds: 2,
      epochs: 2,
      lrExponents: [-1, 0],
      bootstrapReplicates: 50,
    });
    writeJson(join(dir, resultFile.convex('iris')), convex);
    const robustness = runRobustness({
      problems: ['logistic'],
      methods: ['fixed', 'schedule-free'],
      seeds: 1,
      steps: 50,
      gridHalfOctaves: [-4, 0],
      rhoExponents: [0, 1, 2],
      bootstrapReplicates: 20,
    });
    writeJson(join(dir, resultFile.robustness), robustness);
    const results = loadResults(dir);
    expect(results.convex.map((c) => c.dataset)).toEqual(['iris']);
    const files = await writeReport(dir, results);
    expect(files).toEqual(
      expect.arrayContaining([
        'report.html',
        'summary.md',
        'quadratics.svg',
        'robustness.svg',
        'convex-iris-curves.svg',
      ]),
    );
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    for (const svg of files.filter((f) => f.endsWith('.svg'))) {
      expect(html).toContain(`src="${svg}"`);
      expect(readFileSync(join(dir, svg), 'utf8').startsWith('<svg')).toBe(true);
    }
    const summary = readFileSync(join(dir, 'summary.md'), 'utf8');
    expect(summary).toContain('| schedule-free |');
    // Every claim row shows its interval, verdict and where the interval comes from.
    expect(summary).toContain(
      '| claim | measures | value | 95 % interval | target | verdict | interval from |',
    );
    expect(summary).toMatch(/Selection rule: /);
    expect(html).toMatch(/hold, \d+ fail/);
  });

  it('skips, with a warning, result files written before claims had intervals', () => {
    const old = mkdtempSync(join(tmpdir(), 'sf-report-old-'));
    try {
      writeJson(join(old, resultFile.quadratics), {
        ...quadratics,
        checks: [{ claim: 'x', value: 1, threshold: '≤ 2', pass: true }],
      });
      writeJson(join(old, resultFile.robustness), { experiment: 'robustness', problems: {}, checks: [] });
      const warnings: string[] = [];
      const results = loadResults(old, (w) => warnings.push(w));
      expect(results.quadratics).toBeUndefined();
      expect(results.robustness).toBeUndefined(); // no selection rule recorded
      expect(warnings).toHaveLength(2);
      expect(warnings[0]).toMatch(/older version of the bench/);
      writeJson(join(old, resultFile.quadratics), quadratics);
      expect(loadResults(old, () => {}).quadratics?.checks.length).toBe(quadratics.checks.length);
    } finally {
      rmSync(old, { recursive: true, force: true });
    }
  });

  it('renders tables as HTML and Markdown with escaping', () => {
    const table = { title: 'a < b', headers: ['x', 'y'], rows: [['p|q', 1.5]] };
    expect(tableToHtml(table)).toContain('a &lt; b');
    expect(tableToMarkdown(table)).toContain('p\\|q');
  });
});

/**
 * A claim from the experiments spec, evaluated on one run: its value, the value's 95 % interval,
 * what the number measures, and a verdict that takes the interval into account.
 */
import { type Interval, type Threshold, type Verdict, verdictOf } from '../lib/intervals.js';

/**
 * optimization: how far the method minimised the objective it was given (train loss, population
 * excess loss of a streaming problem, suboptimality of a quadratic). generalization: how the
 * trained model does on data it was not trained or selected on (test loss and accuracy).
 */
export type Measures = 'optimization' | 'generalization';

export interface Check {
  claim: string;
  measures: Measures;
  value: number;
  /** 95 % interval of `value`. */
  interval: Interval;
  /** Where the interval comes from, e.g. "bootstrap over 100 seeds, η* re-selected". */
  uncertainty: string;
  /** Absent for numbers reported next to the spec's claims without a pass criterion. */
  threshold?: Threshold;
  verdict: Verdict;
}

/** Builds a check, deriving its verdict from the interval and the threshold. */
export function makeCheck(fields: Omit<Check, 'verdict'>): Check {
  return { ...fields, verdict: verdictOf(fields.interval, fields.threshold) };
}

/** Counts of each verdict over the checks that have a threshold. */
export function tally(checks: readonly Check[]): Record<Exclude<Verdict, 'reported'>, number> {
  const count = { pass: 0, fail: 0, inconclusive: 0 };
  for (const c of checks) if (c.verdict !== 'reported') count[c.verdict]++;
  return count;
}

/** "12 hold, 1 fails, 2 inconclusive (of 15)". */
export function tallyText(checks: readonly Check[]): string {
  const { pass, fail, inconclusive } = tally(checks);
  return `${pass} hold, ${fail} ${fail === 1 ? 'fails' : 'fail'}, ${inconclusive} inconclusive (of ${pass + fail + inconclusive} claims)`;
}

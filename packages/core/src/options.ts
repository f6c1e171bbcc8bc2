import { ScheduleFreeError } from './errors.js';

/** Checks one option value; returns a description of what it must be, or null when it is valid. */
export type OptionRule = (value: unknown) => string | null;

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** A finite number ≥ 0. */
export const nonNegative: OptionRule = (v) => (isNum(v) && v >= 0 ? null : 'must be a finite number ≥ 0');
/** A finite number > 0. */
export const positive: OptionRule = (v) => (isNum(v) && v > 0 ? null : 'must be a finite number > 0');
/** An integer ≥ 0. */
export const nonNegativeInteger: OptionRule = (v) =>
  isNum(v) && v >= 0 && Number.isInteger(v) ? null : 'must be an integer ≥ 0';
/** A boolean. */
export const boolean: OptionRule = (v) => (typeof v === 'boolean' ? null : 'must be true or false');

/** A number in a range; `open` marks which ends are excluded. */
export function inRange(lo: number, hi: number, open: { lo?: boolean; hi?: boolean } = {}): OptionRule {
  const text = `must be in ${open.lo ? '(' : '['}${lo}, ${hi}${open.hi ? ')' : ']'}`;
  return (v) => (isNum(v) && (open.lo ? v > lo : v >= lo) && (open.hi ? v < hi : v <= hi) ? null : text);
}

/** A pair `[first, second]` with a rule for each element. */
export function pair(first: OptionRule, second: OptionRule): OptionRule {
  return (v) => {
    if (!Array.isArray(v) || v.length !== 2) return 'must be a pair [β1, β2]';
    const a = first(v[0]);
    if (a) return `[0] ${a}`;
    const b = second(v[1]);
    return b ? `[1] ${b}` : null;
  };
}

/** Per-option rule plus a hint on typical values, used in error messages. */
export type OptionSchema<O> = { readonly [K in keyof O]-?: readonly [OptionRule, string] };

function show(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined) return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/**
 * Validates options against a schema. `extraKeys` are accepted without checks (e.g. engine options).
 * Throws `INVALID_OPTION` naming the option, the rule, the value received and a hint.
 */
export function validateOptions<O extends object>(
  where: string,
  schema: OptionSchema<O>,
  options: Readonly<Record<string, unknown>>,
  extraKeys: readonly string[] = [],
): void {
  for (const key of Object.keys(options)) {
    if (!(key in schema) && !extraKeys.includes(key) && options[key] !== undefined) {
      const known = [...Object.keys(schema), ...extraKeys].join(', ');
      throw new ScheduleFreeError(
        'INVALID_OPTION',
        `${where}: unknown option "${key}". Known options: ${known}.`,
      );
    }
  }
  for (const [key, [rule, hint]] of Object.entries(schema) as [string, readonly [OptionRule, string]][]) {
    const problem = rule(options[key]);
    if (problem) {
      const element = /^\[(\d)\] /.exec(problem);
      const path = element ? `${key}[${element[1]}]` : key;
      const text = element ? problem.slice(element[0].length) : problem;
      const value = element ? (options[key] as unknown[])[Number(element[1])] : options[key];
      throw new ScheduleFreeError(
        'INVALID_OPTION',
        `${where}: option "${path}" ${text}, got ${show(value)}. ${hint}`,
      );
    }
  }
}

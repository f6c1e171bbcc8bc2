import {
  assertIdentifiers,
  type KernelPlan,
  liveNodes,
  localName,
  nodeExpressions,
  type ScalarDerivation,
} from '@schedulefree/core';

/**
 * Lowering of the core's {@link KernelPlan} to gpu.js kernel source. The plan fixes everything a
 * target must agree on (which lerp branch each lerp takes this run, which scalar arguments the
 * kernel takes and how each is derived on the host); the core's `nodeExpressions` writes one
 * expression per node in a C-like language, and this module only says how gpu.js reads an element,
 * names a scalar and takes a square root, and how the outputs leave the kernels:
 *
 * - `map`: a kernel map. The root returns one output; each further output goes through an identity
 *   sub-kernel (`createKernelMap`), so all of them are written in one pass (WebGL modes, cpu).
 * - `single`: one kernel per output (webgpu, which has neither kernel maps nor `Array(k)` pipeline
 *   inputs; webasm, where kernel maps silently fall back to cpu and an `Array(k)` result comes back
 *   as one small array per element, ten times slower than k separate kernels at 1M elements).
 *
 * Each kernel evaluates only the nodes its outputs depend on and takes only the tensors and scalars
 * those read. Per-step values are `Float` arguments, never compiled-in constants, so a kernel is
 * built once per program structure, shape and lerp pattern, and reused by every step.
 */

/** How the outputs of a plan are returned by its kernels. */
export type OutputStyle = 'map' | 'single' | 'rows';

/** One generated kernel. */
export interface LoweredKernel {
  /** `function (...) { ... }`: the kernel (or the kernel map's root). */
  readonly source: string;
  /**
   * `rows` style: the kernel's output has one row per result (`this.thread.y`), so gpu.js is called
   * once for all of them (the output shape is `[n, results.length]`).
   */
  readonly rows: boolean;
  /** Kernel maps only: property → identity sub-kernel source. */
  readonly subKernels: Readonly<Record<string, string>>;
  /** The slots whose tensors are its first arguments, in order. */
  readonly tensors: readonly string[];
  /** Its further (`Float`) arguments: indices into the plan's `uses`, in order. */
  readonly scalars: readonly number[];
  /**
   * The values it returns, in order (the root result, then the sub-kernel properties). Each value
   * feeds one or more output slots (two slots can share a node, e.g. `param` and `y` of the
   * reference classes).
   */
  readonly results: ReadonlyArray<{ readonly key: string; readonly slots: readonly string[] }>;
}

export interface LowerOptions {
  readonly style: OutputStyle;
  /** Number of output dimensions (1, 2 or 3): how elements are indexed (`this.thread.x`, …). */
  readonly rank: 1 | 2 | 3;
  /** Most results one kernel map may return (its draw buffers); at most 4. */
  readonly maxResults?: number;
}

const ELEMENT_INDEX = {
  1: '[this.thread.x]',
  2: '[this.thread.y][this.thread.x]',
  3: '[this.thread.z][this.thread.y][this.thread.x]',
} as const;

/** Argument name prefixes, so that the source says how each scalar was derived. */
const SCALAR_PREFIX: Record<ScalarDerivation, string> = { value: 's_', reciprocal: 'inv_', oneMinus: 'om_' };

/** Lowers a plan to gpu.js kernels. Throws if a slot or scalar name is not a plain identifier. */
export function lowerPlan(plan: KernelPlan, options: LowerOptions): LoweredKernel[] {
  assertIdentifiers(plan);
  if (options.style === 'rows') {
    if (options.rank !== 1) throw new Error('lowerPlan: the rows style takes flat (rank 1) tensors');
    return [lowerRows(plan)];
  }
  const limit = options.style === 'single' ? 1 : Math.min(options.maxResults ?? 4, 4);
  if (limit < 1) throw new Error('lowerPlan: maxResults must be at least 1');
  const results = resultNodes(plan);
  const index = ELEMENT_INDEX[options.rank];
  const expressions = gpujsExpressions(plan, index);
  const kernels: LoweredKernel[] = [];
  for (let i = 0; i < results.length; i += limit) {
    const group = results.slice(i, i + limit);
    const need = liveNodes(
      plan.graph,
      group.map((r) => r.id),
    );
    const { tensors, scalars, names } = kernelArguments(plan, need);
    const lines = expressions
      .filter((e) => need.has(e.id))
      .map((e) => `  const ${localName(e.id)} = ${e.expr};`);
    const keys = group.map((_, j) => (j > 0 ? `o${j}` : 'result'));
    const subKernels: Record<string, string> = {};
    if (options.style === 'map') {
      group.slice(1).forEach((r, j) => {
        const fn = `sfOut${j + 1}`;
        subKernels[keys[j + 1]] = `function ${fn}(value) {\n  return value;\n}`;
        lines.push(`  ${fn}(${localName(r.id)});`);
      });
    }
    lines.push(`  return ${localName(group[0].id)};`);
    kernels.push({
      source: `function (${names.join(', ')}) {\n${lines.join('\n')}\n}`,
      rows: false,
      subKernels,
      tensors,
      scalars,
      results: group.map((r, j) => ({ key: keys[j], slots: r.slots })),
    });
  }
  return kernels;
}

/**
 * One partial-sum kernel of a reduction (ScheduleFree+'s Σ|g| and Σ g·(z − x)): its output has one
 * row per term (`this.thread.y`) and one column per block of `constants.block` consecutive elements
 * (`this.thread.x`); each thread sums its block of its term. The host reads the rows back once and
 * adds them up in float64.
 */
export interface LoweredReduction {
  readonly source: string;
  /** The slots whose tensors are its first arguments, in order. */
  readonly tensors: readonly string[];
  /** Its further (`Float`) arguments: indices into the plan's `uses`, in order. */
  readonly scalars: readonly number[];
  /** The terms, in the order of the output rows (the graph's outputs). */
  readonly terms: readonly string[];
}

/**
 * How the flat element index `i` reads an element of a tensor of each rank: rank 2 and 3 split it
 * with the sizes `constants.sx` (and `constants.sy`) into the coordinates gpu.js indexes by.
 */
const FLAT_INDEX = {
  1: { prelude: [], element: '[i]' },
  2: {
    prelude: ['const iy = Math.floor(i / this.constants.sx);', 'const ix = i - iy * this.constants.sx;'],
    element: '[iy][ix]',
  },
  3: {
    prelude: [
      'const iz = Math.floor(i / (this.constants.sx * this.constants.sy));',
      'const rest = i - iz * this.constants.sx * this.constants.sy;',
      'const iy = Math.floor(rest / this.constants.sx);',
      'const ix = rest - iy * this.constants.sx;',
    ],
    element: '[iz][iy][ix]',
  },
} as const;

/**
 * Lowers a planned reduction to one gpu.js partial-sum kernel over tensors of `rank` dimensions,
 * from the core's `nodeExpressions` (each term's loop evaluates only the nodes it needs). The
 * kernel expects the constants `block` and `size` (the element count), plus `sx`/`sy` for ranks 2
 * and 3.
 */
export function lowerReduction(plan: KernelPlan, rank: 1 | 2 | 3): LoweredReduction {
  assertIdentifiers(plan);
  const terms = Object.keys(plan.graph.outputs);
  const { prelude, element } = FLAT_INDEX[rank];
  const expressions = gpujsExpressions(plan, element);
  const need = liveNodes(
    plan.graph,
    terms.map((t) => plan.graph.outputs[t]),
  );
  const { tensors, scalars, names } = kernelArguments(plan, need);
  const lines = ['  let sum = 0;', '  const start = this.thread.x * this.constants.block;'];
  terms.forEach((term, j) => {
    const id = plan.graph.outputs[term];
    const own = liveNodes(plan.graph, [id]);
    lines.push(
      `  if (this.thread.y === ${j}) {`,
      '    for (let k = 0; k < this.constants.block; k++) {',
      '      const i = start + k;',
      '      if (i < this.constants.size) {',
      ...prelude.map((line) => `        ${line}`),
      ...expressions.filter((e) => own.has(e.id)).map((e) => `        const ${localName(e.id)} = ${e.expr};`),
      `        sum += ${localName(id)};`,
      '      }',
      '    }',
      '  }',
    );
  });
  lines.push('  return sum;');
  return { source: `function (${names.join(', ')}) {\n${lines.join('\n')}\n}`, tensors, scalars, terms };
}

/** The distinct result nodes of a plan, in the order of the slots it stores, with their slots. */
function resultNodes(plan: KernelPlan): Array<{ id: number; slots: string[] }> {
  const results: Array<{ id: number; slots: string[] }> = [];
  for (const slot of plan.stores) {
    const id = plan.graph.outputs[slot];
    const existing = results.find((r) => r.id === id);
    if (existing) existing.slots.push(slot);
    else results.push({ id, slots: [slot] });
  }
  return results;
}

/**
 * The `rows` style (flat host tensors; the default in `webasm`): ONE kernel whose output row
 * `this.thread.y` is result j, each row evaluating only the nodes its result needs. gpu.js then
 * copies each input into its memory once per step and the outputs out once, instead of once per
 * output kernel (each of which copies every input it reads).
 */
function lowerRows(plan: KernelPlan): LoweredKernel {
  const results = resultNodes(plan);
  const expressions = gpujsExpressions(plan, ELEMENT_INDEX[1]);
  const need = liveNodes(
    plan.graph,
    results.map((r) => r.id),
  );
  const { tensors, scalars, names } = kernelArguments(plan, need);
  // thread.y is the same on all lanes of gpu.js's SIMD quads, so each row runs only its own branch:
  // the nodes its result needs.
  const lines = ['  let out = 0;'];
  const last = results.length - 1;
  results.forEach((r, j) => {
    const own = liveNodes(plan.graph, [r.id]);
    const head =
      last === 0
        ? '{'
        : j === 0
          ? 'if (this.thread.y === 0) {'
          : j < last
            ? `} else if (this.thread.y === ${j}) {`
            : '} else {';
    lines.push(
      `  ${head}`,
      ...expressions.filter((e) => own.has(e.id)).map((e) => `    const ${localName(e.id)} = ${e.expr};`),
      `    out = ${localName(r.id)};`,
    );
  });
  lines.push('  }', '  return out;');
  return {
    source: `function (${names.join(', ')}) {\n${lines.join('\n')}\n}`,
    rows: true,
    subKernels: {},
    tensors,
    scalars,
    results: results.map((r, j) => ({ key: String(j), slots: r.slots })),
  };
}

/** The scalar argument name of `plan.uses[index]`, prefixed by how it is derived. */
function scalarArgument(plan: KernelPlan, index: number): string {
  const use = plan.uses[index];
  return `${SCALAR_PREFIX[use.kind]}${use.name}`;
}

/** The core's node expressions in gpu.js source, reading an input element with `element`. */
function gpujsExpressions(plan: KernelPlan, element: string) {
  return nodeExpressions(plan, {
    input: (name) => `t_${name}${element}`,
    scalar: (index) => scalarArgument(plan, index),
    sqrt: (x) => `Math.sqrt(${x})`,
    abs: (x) => `Math.abs(${x})`,
  });
}

/** The tensor slots and scalar uses (indices into `plan.uses`) that the nodes `need` read. */
function kernelArguments(plan: KernelPlan, need: ReadonlySet<number>) {
  const tensors = plan.graph.nodes.flatMap((n) => (n.op === 'input' && need.has(n.id) ? [n.name] : []));
  const scalars = [...new Set([...need].flatMap((id) => plan.operand.get(id) ?? []))].sort((a, b) => a - b);
  const names = [...tensors.map((t) => `t_${t}`), ...scalars.map((i) => scalarArgument(plan, i))];
  return { tensors, scalars, names };
}

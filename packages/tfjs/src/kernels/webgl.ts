import { type Graph, nodeArgs } from '@schedulefree/core';
import type * as tf from '@tensorflow/tfjs';
import { lerpPattern, type ScalarUse, scalarValue } from './wasm-simd.js';

type Info = tf.TensorInfo;

/** The subset of tfjs-backend-webgl's GPGPU program this package writes (plain data). */
interface GpgpuProgram {
  variableNames: string[];
  outputShape: number[];
  userCode: string;
  customUniforms: Array<{ name: string; type: 'float' }>;
}

/** The part of tfjs's webgl backend used here (checked at run time). */
export interface WebglBackendLike {
  runWebGLProgram(program: GpgpuProgram, inputs: Info[], dtype: 'float32', uniforms?: number[][]): Info;
}

/** Whether a backend instance looks like tfjs's webgl backend. */
export function isWebglBackend(backend: unknown): backend is WebglBackendLike {
  return typeof (backend as Partial<WebglBackendLike> | null)?.runWebGLProgram === 'function';
}

interface Lowered {
  readonly uses: readonly ScalarUse[];
  /** One fragment shader per output, in `graph.outputs` order, with the inputs it reads. */
  readonly shaders: ReadonlyArray<{ readonly body: string; readonly inputs: readonly number[] }>;
}

/**
 * Lowers a graph to one fragment shader per output (a draw writes one texture): each shader
 * evaluates just the nodes its output depends on, so AdamW's step is three draws instead of a
 * chain of a dozen and more. Scalars are uniforms (`s0`, `s1`, ...) prepared on the host as in the
 * wasm kernels: reciprocals for divisors, w or 1 − w for the lerp branch of this pattern.
 */
export function lowerToGlsl(graph: Graph, pattern: string): Lowered {
  const uses: ScalarUse[] = [];
  const useIndex = new Map<string, number>();
  const uniform = (kind: ScalarUse['kind'], id: number) => {
    const node = graph.nodes[id];
    if (node.op !== 'scalar') throw new Error(`graph ${graph.key}: expected a scalar input`);
    const key = `${kind}:${node.name}`;
    if (!useIndex.has(key)) {
      useIndex.set(key, uses.length);
      uses.push({ kind, name: node.name });
    }
    return `s${useIndex.get(key)}`;
  };
  const lerpKind = new Map<number, string>();
  let lerps = 0;
  for (const node of graph.nodes) if (node.op === 'lerp') lerpKind.set(node.id, pattern[lerps++]);
  const inputIndex = new Map(graph.inputs.map((name, k) => [name, k]));
  const expressions = new Map<number, string>();
  for (const node of graph.nodes) {
    const v = (id: number) => `v${id}`;
    switch (node.op) {
      case 'input':
        expressions.set(node.id, `getX${inputIndex.get(node.name)}AtOutCoords()`);
        break;
      case 'scalar':
        break;
      case 'sqrt':
        expressions.set(node.id, `sqrt(${v(node.args[0])})`);
        break;
      case 'abs':
        expressions.set(node.id, `abs(${v(node.args[0])})`);
        break;
      case 'lerp': {
        const [a, b] = [v(node.args[0]), v(node.args[1])];
        expressions.set(
          node.id,
          lerpKind.get(node.id) === 's'
            ? `${a} + ${uniform('value', node.args[2])} * (${b} - ${a})`
            : `${b} - (${b} - ${a}) * ${uniform('oneMinus', node.args[2])}`,
        );
        break;
      }
      default: {
        const [a, b] = node.args;
        const scalarRight = graph.nodes[b].kind === 'scalar';
        const symbol = { add: '+', sub: '-', mul: '*', div: '/' }[node.op];
        const right = scalarRight ? uniform(node.op === 'div' ? 'reciprocal' : 'value', b) : v(b);
        expressions.set(node.id, `${v(a)} ${scalarRight && node.op === 'div' ? '*' : symbol} ${right}`);
      }
    }
  }
  const shaders = Object.keys(graph.outputs).map((name) => {
    const live = new Set<number>([graph.outputs[name]]);
    for (let i = graph.nodes.length - 1; i >= 0; i--) {
      if (live.has(i)) for (const a of nodeArgs(graph.nodes[i])) live.add(a);
    }
    const nodes = graph.nodes.filter((n) => live.has(n.id) && expressions.has(n.id));
    const lines = nodes.map((n) => `  float v${n.id} = ${expressions.get(n.id)};`);
    const inputs = nodes.flatMap((n) => (n.op === 'input' ? [inputIndex.get(n.name)!] : []));
    return { body: `void main() {\n${lines.join('\n')}\n  setOutput(v${graph.outputs[name]});\n}`, inputs };
  });
  return { uses, shaders };
}

const lowered = new Map<string, Lowered>();

/**
 * Runs a graph on webgl tensors: one draw per output, each reading the inputs it needs. Returns
 * the outputs in `graph.outputs` order.
 */
export function runWebglKernel(
  backend: WebglBackendLike,
  graph: Graph,
  inputs: readonly Info[],
  scalars: Readonly<Record<string, number>>,
): Info[] {
  const pattern = lerpPattern(graph, scalars);
  const key = `${graph.key}#${pattern}`;
  let kernel = lowered.get(key);
  if (!kernel) {
    kernel = lowerToGlsl(graph, pattern);
    lowered.set(key, kernel);
  }
  const { uses, shaders } = kernel;
  const shape = [...inputs[0].shape];
  const uniforms = uses.map((use) => [scalarValue(use, scalars)]);
  return shaders.map(({ body, inputs: used }) =>
    backend.runWebGLProgram(
      {
        variableNames: used.map((k) => `x${k}`),
        outputShape: shape,
        userCode: body,
        customUniforms: uses.map((_, u) => ({ name: `s${u}`, type: 'float' })),
      },
      used.map((k) => inputs[k]),
      'float32',
      uniforms,
    ),
  );
}

import { type KernelPlan, liveNodes, localName, nodeExpressions } from '@schedulefree/core';
import type * as tf from '@tensorflow/tfjs';

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

/** One fragment shader: its source and the slots it samples. */
interface Shader {
  readonly body: string;
  readonly inputs: readonly string[];
}

/**
 * One fragment shader per output (a draw writes one texture), each evaluating just the nodes its
 * output depends on, from the core's expressions of the plan: AdamW's step is three draws instead
 * of a chain of a dozen and more. Input `k` of the graph is sampler `x<k>`; the plan's scalar
 * arguments are uniforms `s<i>`.
 */
export function lowerToGlsl(plan: KernelPlan, outputs: readonly string[]): Shader[] {
  const { graph } = plan;
  const inputIndex = new Map(graph.inputs.map((name, k) => [name, k]));
  const expressions = nodeExpressions(plan, {
    input: (name) => `getX${inputIndex.get(name)}AtOutCoords()`,
    scalar: (index) => `s${index}`,
    sqrt: (x) => `sqrt(${x})`,
    abs: (x) => `abs(${x})`,
  });
  return outputs.map((name) => {
    const live = liveNodes(graph, [graph.outputs[name]]);
    const lines = expressions
      .filter((e) => live.has(e.id))
      .map((e) => `  float ${localName(e.id)} = ${e.expr};`);
    const inputs = graph.nodes.flatMap((n) => (n.op === 'input' && live.has(n.id) ? [n.name] : []));
    const body = `void main() {\n${lines.join('\n')}\n  setOutput(${localName(graph.outputs[name])});\n}`;
    return { body, inputs };
  });
}

const shaders = new WeakMap<KernelPlan, Shader[]>();

/** Runs a planned graph on webgl tensors: one draw per output, each sampling the inputs it needs. */
export function runWebglKernel(
  backend: WebglBackendLike,
  plan: KernelPlan,
  outputs: readonly string[],
  inputs: Readonly<Record<string, Info>>,
  args: readonly number[],
): Info[] {
  let lowered = shaders.get(plan);
  if (!lowered) {
    lowered = lowerToGlsl(plan, outputs);
    shaders.set(plan, lowered);
  }
  const index = new Map(plan.graph.inputs.map((name, k) => [name, k]));
  const shape = [...inputs[plan.loads[0]].shape];
  const uniforms = args.map((a) => [a]);
  const customUniforms = args.map((_, i) => ({ name: `s${i}`, type: 'float' as const }));
  return lowered.map((shader) =>
    backend.runWebGLProgram(
      {
        variableNames: shader.inputs.map((name) => `x${index.get(name)}`),
        outputShape: shape,
        userCode: shader.body,
        customUniforms,
      },
      shader.inputs.map((name) => inputs[name]),
      'float32',
      uniforms,
    ),
  );
}

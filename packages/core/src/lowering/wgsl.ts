import { assertIdentifiers, type ExpressionDialect, localName, nodeExpressions } from './expressions.js';
import type { KernelPlan } from './kernel-plan.js';
import { liveNodes, scalarValues } from './kernel-plan.js';

/**
 * Lowering of a planned graph to one WGSL compute shader: every invocation evaluates the whole graph
 * for one element, reading each input once and writing each output once, in float32. The per-step
 * scalars of the kernel plan and the element count come from a uniform buffer, so the shader is
 * compiled once per (graph, lerp pattern) and a new learning rate only rewrites 4 bytes.
 *
 * Bindings (group 0): binding 0 is the uniform buffer (`n: u32`, then one f32 per plan scalar), then
 * one storage buffer per slot, in {@link WgslKernel.bindings} order. Out of place (tfjs: outputs are
 * new tensors), inputs are read-only and each output has its own binding; in place, an output that is
 * also a loaded input shares that input's read-write binding (WebGPU forbids binding one buffer twice
 * when either binding is writable).
 */

/** One storage binding of a lowered kernel. */
export interface WgslBinding {
  /** Binding index in group 0. */
  readonly binding: number;
  /** The slot it holds (for an out-of-place output: the output's slot name). */
  readonly slot: string;
  /** `input`: read only; `output`: written (out of place); `inout`: read then written (in place). */
  readonly role: 'input' | 'output' | 'inout';
}

/** A lowered kernel and how to bind and dispatch it. */
export interface WgslKernel {
  readonly code: string;
  readonly plan: KernelPlan;
  readonly bindings: readonly WgslBinding[];
  /** Outputs in the order asked for. */
  readonly outputs: readonly string[];
  /** Invocations per workgroup. */
  readonly workgroupSize: number;
  /** Byte size of the uniform buffer (a multiple of 16). */
  readonly uniformBytes: number;
}

/** Invocations per workgroup: a common size that suits every vendor reasonably. */
export const WGSL_WORKGROUP_SIZE = 64;
/** The most workgroups one dispatch dimension may have (WebGPU's default limit). */
export const WGSL_MAX_WORKGROUPS_PER_DIMENSION = 65535;

/** Lowers a plan writing `outputs` (default: the plan's `stores`), in place or into new buffers. */
export function lowerToWgsl(
  plan: KernelPlan,
  outputs: readonly string[] = plan.stores,
  { inPlace = false }: { inPlace?: boolean } = {},
): WgslKernel {
  assertIdentifiers(plan);
  const { graph } = plan;
  for (const name of outputs) {
    if (!(name in graph.outputs)) throw new Error(`graph ${graph.key}: "${name}" is not an output`);
  }
  // Only what these outputs need: a kernel computing part of a graph's outputs reads fewer inputs.
  plan = restrictPlan(plan, outputs);
  const bindings: WgslBinding[] = [];
  const bufferOf = new Map<string, string>();
  for (const slot of plan.loads) {
    const role = inPlace && outputs.includes(slot) ? 'inout' : 'input';
    bindings.push({ binding: bindings.length + 1, slot, role });
    bufferOf.set(slot, `b_${slot}`);
  }
  const outputBuffer = new Map<string, string>();
  for (const slot of outputs) {
    if (inPlace && plan.loads.includes(slot)) {
      outputBuffer.set(slot, `b_${slot}`);
      continue;
    }
    bindings.push({ binding: bindings.length + 1, slot, role: inPlace ? 'inout' : 'output' });
    outputBuffer.set(slot, inPlace ? `b_${slot}` : `o_${slot}`);
  }
  const dialect: ExpressionDialect = {
    input: (name) => `${bufferOf.get(name)}[i]`,
    scalar: (index) => `u.s${index}`,
    sqrt: (x) => `sqrt(${x})`,
    abs: (x) => `abs(${x})`,
  };
  const lines: string[] = [];
  lines.push('struct Uniforms {', '  n: u32,');
  plan.uses.forEach((_, j) => {
    lines.push(`  s${j}: f32,`);
  });
  lines.push('}', '@group(0) @binding(0) var<uniform> u: Uniforms;');
  for (const b of bindings) {
    const name = b.role === 'output' ? `o_${b.slot}` : `b_${b.slot}`;
    const access = b.role === 'input' ? 'read' : 'read_write';
    lines.push(`@group(0) @binding(${b.binding}) var<storage, ${access}> ${name}: array<f32>;`);
  }
  lines.push(
    `@compute @workgroup_size(${WGSL_WORKGROUP_SIZE})`,
    'fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {',
    // Large tensors dispatch a 2-D grid of workgroups; flatten it to one element index.
    `  let i = id.x + id.y * groups.x * ${WGSL_WORKGROUP_SIZE}u;`,
    '  if (i >= u.n) {',
    '    return;',
    '  }',
  );
  for (const { id, expr } of nodeExpressions(plan, dialect)) lines.push(`  let ${localName(id)} = ${expr};`);
  for (const slot of outputs)
    lines.push(`  ${outputBuffer.get(slot)}[i] = ${localName(graph.outputs[slot])};`);
  lines.push('}');
  const uniformBytes = Math.ceil((4 * (1 + plan.uses.length)) / 16) * 16;
  return {
    code: lines.join('\n'),
    plan,
    bindings,
    outputs,
    workgroupSize: WGSL_WORKGROUP_SIZE,
    uniformBytes,
  };
}

/** The uniform buffer's contents for one run over `n` elements (scalars rounded once to float32). */
export function wgslUniforms(
  kernel: WgslKernel,
  scalars: Readonly<Record<string, number>>,
  n: number,
): ArrayBuffer {
  const buffer = new ArrayBuffer(kernel.uniformBytes);
  new Uint32Array(buffer, 0, 1)[0] = n;
  new Float32Array(buffer, 4, kernel.plan.uses.length).set(scalarValues(kernel.plan, scalars));
  return buffer;
}

/** Workgroup counts `[x, y]` that cover `n` elements within the per-dimension limit. */
export function wgslDispatch(n: number): [number, number] {
  const groups = Math.max(1, Math.ceil(n / WGSL_WORKGROUP_SIZE));
  if (groups <= WGSL_MAX_WORKGROUPS_PER_DIMENSION) return [groups, 1];
  const y = Math.ceil(groups / WGSL_MAX_WORKGROUPS_PER_DIMENSION);
  return [Math.ceil(groups / y), y];
}

/** The plan reduced to the nodes and loaded inputs that `outputs` depend on. */
function restrictPlan(plan: KernelPlan, outputs: readonly string[]): KernelPlan {
  const { graph } = plan;
  const live = liveNodes(
    graph,
    outputs.map((o) => graph.outputs[o]),
  );
  const loads = plan.loads.filter((name) =>
    graph.nodes.some((n) => n.op === 'input' && n.name === name && live.has(n.id)),
  );
  return { ...plan, live, loads };
}

/**
 * Splits `outputs` into groups whose kernels each bind at most `maxStorageBuffers` storage buffers
 * (WebGPU's default limit per shader stage is 8; an AdamW step reads 5 slots and writes 4): each
 * group's kernel computes only the nodes its outputs need. Out of place only: one kernel must not
 * overwrite what another still reads.
 */
export function lowerToWgslKernels(
  plan: KernelPlan,
  outputs: readonly string[],
  maxStorageBuffers = 8,
): WgslKernel[] {
  const bindingsOf = (group: readonly string[]) => restrictPlan(plan, group).loads.length + group.length;
  const groups: string[][] = [];
  for (const output of outputs) {
    const last = groups.at(-1);
    if (last && bindingsOf([...last, output]) <= maxStorageBuffers) last.push(output);
    else groups.push([output]);
  }
  for (const group of groups) {
    if (bindingsOf(group) > maxStorageBuffers) {
      throw new Error(
        `graph ${plan.graph.key}: output ${group[0]} alone needs more than ${maxStorageBuffers} storage buffers`,
      );
    }
  }
  return groups.map((group) => lowerToWgsl(plan, group));
}

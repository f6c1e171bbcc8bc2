import { type Execution, type MemberRun, planFor, type RunReport, scalarValues } from '@schedulefree/core';
import { CHECK_OUTPUT, type PortSpec } from './lower.js';
import {
  flatTensor,
  hostData,
  type OrtModule,
  type OrtTensor,
  onHost,
  scalarTensor,
  type TensorInput,
} from './runtime.js';
import type { SessionCache } from './sessions.js';
import { mergeModel } from './split.js';

/**
 * Runs a program over a group as one `session.run`: the core's kernel plan for this run's scalars
 * (its lerp pattern picks the session) is fed the group's flat slots, the gradients (whole, or one
 * part per parameter, joined in the graph) and the plan's scalar arguments, each rounded to float32
 * once. Every output is a new tensor that replaces its slot; inputs are never written. Parameters
 * without a gradient this step (frozen) get zeros, and their ranges of every output are then taken
 * back from the inputs.
 */
export function onnxExecution(ort: OrtModule, sessions: SessionCache): Execution<TensorInput> {
  return {
    async run({ graph, scalars, group, members, checkGradients }): Promise<RunReport> {
      const plan = planFor(graph, scalars);
      const values = scalarValues(plan, scalars);
      let finite = true;
      for (const member of members) {
        const length = member.sizes.reduce((a, b) => a + b, 0);
        const { lowered, session } = await sessions.plan(plan, {
          length,
          gradParts: member.gradParts ? member.sizes : undefined,
          checkGrad: checkGradients,
        });
        const feeds: Record<string, OrtTensor> = {};
        for (const port of lowered.inputs) feeds[port.name] = feed(ort, member, port, values, length);
        const results = await session.run(feeds);
        for (const port of lowered.outputs) {
          if (port.kind === 'check') {
            if (Number.isNaN(((results[CHECK_OUTPUT] as OrtTensor).data as Float32Array)[0])) finite = false;
            continue;
          }
          const next = results[port.name] as OrtTensor;
          const kept = member.slots[port.slot] as OrtTensor;
          member.slots[port.slot] = member.frozen
            ? await keepFrozen(sessions, group, member, kept, next)
            : next;
        }
      }
      return checkGradients ? { gradientsFinite: finite } : {};
    },
    /** Sums of a reduction's terms over the group: one session run per member, read back as 0-d tensors. */
    async reduce({ graph, scalars, members }): Promise<number[]> {
      const plan = planFor(graph, scalars);
      const values = scalarValues(plan, scalars);
      const terms = Object.keys(graph.outputs);
      const sums = terms.map(() => 0);
      for (const member of members) {
        const length = member.sizes.reduce((a, b) => a + b, 0);
        const { lowered, session } = await sessions.plan(plan, {
          length,
          gradParts: member.gradParts ? member.sizes : undefined,
          reduce: true,
        });
        const feeds: Record<string, OrtTensor> = {};
        // A frozen parameter's gradient part is fed as zeros: it adds nothing to either sum.
        for (const port of lowered.inputs) feeds[port.name] = feed(ort, member, port, values, length);
        const results = await session.run(feeds);
        for (const port of lowered.outputs) {
          const sum = ((results[port.name] as OrtTensor).data as Float32Array)[0];
          sums[terms.indexOf(port.slot)] += sum;
        }
      }
      return sums;
    },
  };
}

/** The tensor fed to one input of the lowered graph. */
function feed(
  ort: OrtModule,
  member: MemberRun<TensorInput>,
  port: PortSpec,
  values: readonly number[],
  length: number,
): OrtTensor {
  if (port.kind === 'scalar') return scalarTensor(ort, values[port.use!]);
  if (port.kind === 'grad-part') {
    const i = Number(port.name.slice('grad.'.length));
    const part = member.gradParts![i] as TensorInput | null;
    const size = member.sizes[i];
    return part ? flatTensor(ort, part, size) : new ort.Tensor('float32', new Float32Array(size), [size]);
  }
  const tensor = member.slots[port.slot];
  if (!tensor) throw new Error(`onnx execution: no slot "${port.slot}"`);
  return flatTensor(ort, tensor, length);
}

/** `next` with the frozen parameters' ranges taken from `kept`: in place on the host, by a merge session on the device. */
async function keepFrozen(
  sessions: SessionCache,
  group: number,
  member: MemberRun<TensorInput>,
  kept: OrtTensor,
  next: OrtTensor,
): Promise<OrtTensor> {
  const frozen = member.frozen!;
  const ranges = member.sizes.map((size, i) => ({
    size,
    offset: member.sizes.slice(0, i).reduce((a, b) => a + b, 0),
  }));
  if (onHost(next) && onHost(kept)) {
    const from = hostData(kept);
    const into = hostData(next);
    ranges.forEach(({ offset, size }, i) => {
      if (frozen[i]) into.set(from.subarray(offset, offset + size), offset);
    });
    return next;
  }
  const length = member.sizes.reduce((a, b) => a + b, 0);
  const key = `merge:${group}:${frozen.map(Number).join('')}`;
  const session = await sessions.model(key, () => mergeModel(ranges, frozen, length));
  const merged = (await session.run({ kept, next })).merged as OrtTensor;
  next.dispose();
  return merged;
}

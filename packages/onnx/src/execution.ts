import { type Execution, type MemberRun, planFor, type RunReport, scalarValues } from '@schedulefree/core';
import { CHECK_OUTPUT, type PortSpec } from './lower.js';
import { flatTensor, type OrtModule, type OrtTensor, scalarTensor, type TensorInput } from './runtime.js';
import type { SessionCache } from './sessions.js';

/**
 * Runs a program over a group as one `session.run`: the core's kernel plan for this run's scalars
 * (its lerp pattern picks the session) is fed the group's flat slots, the gradients (whole, or one
 * part per parameter, joined in the graph) and the plan's scalar arguments, each rounded to float32
 * once. Every output is a new tensor that replaces its slot; inputs are never written.
 */
export function onnxExecution(ort: OrtModule, sessions: SessionCache): Execution<TensorInput> {
  return {
    async run({ graph, scalars, members, checkGradients }): Promise<RunReport> {
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
        for (const port of lowered.inputs) feeds[port.name] = feed(member, port, values, ort);
        const results = await session.run(feeds);
        for (const port of lowered.outputs) {
          if (port.kind === 'check') {
            if (Number.isNaN(((results[CHECK_OUTPUT] as OrtTensor).data as Float32Array)[0])) finite = false;
            continue;
          }
          member.slots[port.slot] = results[port.name] as OrtTensor;
        }
      }
      return checkGradients ? { gradientsFinite: finite } : {};
    },
  };
}

/** The tensor fed to one input of the lowered graph. */
function feed(
  member: MemberRun<TensorInput>,
  port: PortSpec,
  values: readonly number[],
  ort: OrtModule,
): OrtTensor {
  if (port.kind === 'scalar') return scalarTensor(ort, values[port.use!]);
  if (port.kind === 'grad-part') {
    const i = Number(port.name.slice('grad.'.length));
    return flatTensor(ort, member.gradParts![i], member.sizes[i]);
  }
  const tensor = member.slots[port.slot];
  if (!tensor) throw new Error(`onnx execution: no slot "${port.slot}"`);
  return flatTensor(
    ort,
    tensor,
    member.sizes.reduce((a, b) => a + b, 0),
  );
}

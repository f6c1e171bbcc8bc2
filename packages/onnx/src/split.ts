import { modelOf } from './model.js';
import type { Initializer, ModelSpec, NodeSpec } from './onnx-model.js';

/**
 * A model that cuts a group's flat buffer into its parameters with their own dimensions (outputs
 * `p.0`, `p.1`, …): how device-resident parameters are handed out without a read-back.
 */
export function splitModel(
  params: ReadonlyArray<{ offset: number; size: number; dims: readonly number[] }>,
  length: number,
): ModelSpec {
  const nodes: NodeSpec[] = [];
  const initializers: Initializer[] = [{ name: 'axes', type: 'int64', dims: [1], values: [0] }];
  params.forEach((p, i) => {
    initializers.push(
      { name: `start.${i}`, type: 'int64', dims: [1], values: [p.offset] },
      { name: `end.${i}`, type: 'int64', dims: [1], values: [p.offset + p.size] },
      { name: `shape.${i}`, type: 'int64', dims: [p.dims.length], values: [...p.dims] },
    );
    nodes.push(
      { op: 'Slice', inputs: ['flat', `start.${i}`, `end.${i}`, 'axes'], outputs: [`slice.${i}`] },
      { op: 'Reshape', inputs: [`slice.${i}`, `shape.${i}`], outputs: [`p.${i}`] },
    );
  });
  return modelOf({
    name: 'split_parameters',
    nodes,
    inputs: [{ name: 'flat', type: 'float32', shape: [length] }],
    outputs: params.map((p, i) => ({ name: `p.${i}`, type: 'float32', shape: [...p.dims] })),
    initializers,
  });
}

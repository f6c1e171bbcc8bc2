import { modelOf } from './model.js';
import type { Initializer, ModelSpec, NodeSpec } from './onnx-model.js';

/** Slice bounds of each range, as initializers named `start.i` / `end.i`, plus the `axes` one. */
function sliceBounds(ranges: ReadonlyArray<{ offset: number; size: number }>): Initializer[] {
  const initializers: Initializer[] = [{ name: 'axes', type: 'int64', dims: [1], values: [0] }];
  ranges.forEach((p, i) => {
    initializers.push(
      { name: `start.${i}`, type: 'int64', dims: [1], values: [p.offset] },
      { name: `end.${i}`, type: 'int64', dims: [1], values: [p.offset + p.size] },
    );
  });
  return initializers;
}

/**
 * A model that cuts a group's flat buffer into its parameters with their own dimensions (outputs
 * `p.0`, `p.1`, …): how device-resident parameters are handed out without a read-back.
 */
export function splitModel(
  params: ReadonlyArray<{ offset: number; size: number; dims: readonly number[] }>,
  length: number,
): ModelSpec {
  const nodes: NodeSpec[] = [];
  const initializers = sliceBounds(params);
  params.forEach((p, i) => {
    initializers.push({ name: `shape.${i}`, type: 'int64', dims: [p.dims.length], values: [...p.dims] });
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

/**
 * A model that joins two flat buffers of a group part by part: each parameter's range from `kept`
 * where `keep[i]`, else from `next` (output `merged`). How the parameters of a group without a
 * gradient this step keep their values on the device.
 */
export function mergeModel(
  params: ReadonlyArray<{ offset: number; size: number }>,
  keep: readonly boolean[],
  length: number,
): ModelSpec {
  const nodes: NodeSpec[] = params.map((_, i) => ({
    op: 'Slice',
    inputs: [keep[i] ? 'kept' : 'next', `start.${i}`, `end.${i}`, 'axes'],
    outputs: [`part.${i}`],
  }));
  nodes.push({
    op: 'Concat',
    inputs: params.map((_, i) => `part.${i}`),
    outputs: ['merged'],
    attributes: { axis: { int: 0 } },
  });
  return modelOf({
    name: 'merge_parameters',
    nodes,
    inputs: ['kept', 'next'].map((name) => ({ name, type: 'float32', shape: [length] })),
    outputs: [{ name: 'merged', type: 'float32', shape: [length] }],
    initializers: sliceBounds(params),
  });
}

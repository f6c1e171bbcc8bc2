import packageJson from '../package.json' with { type: 'json' };
import type { GraphSpec, ModelSpec } from './onnx-model.js';

/**
 * Operator set of every generated model. Opset 17 (IR version 8) runs in every onnxruntime this
 * package supports (1.20+, web and node) and in other current ONNX runtimes; the graphs use only
 * Add, Sub, Mul, Div, Sqrt, Identity, Concat, ReduceSum, Slice and Reshape.
 */
export const OPSET_VERSION = 17;
export const IR_VERSION = 8;
export const PRODUCER_NAME = '@schedulefree/onnx';
export const PRODUCER_VERSION: string = packageJson.version;

/** Wraps a graph in a model with this package as the producer. */
export function modelOf(graph: GraphSpec, doc?: string, metadata?: Record<string, string>): ModelSpec {
  return {
    graph,
    opset: OPSET_VERSION,
    irVersion: IR_VERSION,
    producerName: PRODUCER_NAME,
    producerVersion: PRODUCER_VERSION,
    ...(doc ? { doc } : {}),
    ...(metadata ? { metadata } : {}),
  };
}

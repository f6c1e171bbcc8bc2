import { ProtoWriter } from './proto.js';

/**
 * The subset of ONNX's `ModelProto` this package writes, as plain data, and its encoder. Field
 * numbers follow onnx/onnx.proto (IR version 8).
 */

/** Element types used by the generated graphs (ONNX `TensorProto.DataType` codes). */
export const ElemType = { float32: 1, int64: 7, bool: 9 } as const;
export type ElemTypeName = keyof typeof ElemType;

/** One dimension: a fixed size or a symbolic name such as `"n"`. */
export type Dim = number | string;

/** A graph input or output: name, element type and shape (`[]` is a 0-d scalar). */
export interface ValueInfo {
  readonly name: string;
  readonly type: ElemTypeName;
  readonly shape: readonly Dim[];
  readonly doc?: string;
}

/** An attribute value: an int, a list of ints, or a float. */
export type AttributeValue = { int: number } | { ints: readonly number[] } | { float: number };

/** One operator application. */
export interface NodeSpec {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly name?: string;
  readonly attributes?: Readonly<Record<string, AttributeValue>>;
}

/** A constant tensor stored in the model. */
export interface Initializer {
  readonly name: string;
  readonly type: 'float32' | 'int64';
  readonly dims: readonly number[];
  readonly values: readonly number[];
}

export interface GraphSpec {
  readonly name: string;
  readonly nodes: readonly NodeSpec[];
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  readonly initializers: readonly Initializer[];
  readonly doc?: string;
}

export interface ModelSpec {
  readonly graph: GraphSpec;
  /** Version of the default ONNX operator set (domain `""`). */
  readonly opset: number;
  readonly irVersion: number;
  readonly producerName: string;
  readonly producerVersion: string;
  readonly doc?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

// AttributeProto.AttributeType codes.
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_INTS = 7;

function writeValueInfo(w: ProtoWriter, v: ValueInfo): void {
  w.string(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, ElemType[v.type]);
      tensor.message(2, (shape) => {
        for (const d of v.shape) {
          shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
        }
      });
    }),
  );
  if (v.doc) w.string(3, v.doc);
}

function writeAttribute(w: ProtoWriter, name: string, value: AttributeValue): void {
  w.string(1, name);
  if ('int' in value) w.int(20, ATTR_INT).int(3, value.int);
  else if ('ints' in value) w.int(20, ATTR_INTS).packedInts(8, value.ints);
  else w.int(20, ATTR_FLOAT).float(2, value.float);
}

function writeNode(w: ProtoWriter, node: NodeSpec): void {
  for (const input of node.inputs) w.string(1, input);
  for (const output of node.outputs) w.string(2, output);
  if (node.name) w.string(3, node.name);
  w.string(4, node.op);
  for (const [name, value] of Object.entries(node.attributes ?? {})) {
    w.message(5, (a) => writeAttribute(a, name, value));
  }
}

function writeInitializer(w: ProtoWriter, init: Initializer): void {
  w.packedInts(1, init.dims);
  w.int(2, ElemType[init.type]);
  w.string(8, init.name);
  // raw_data: little-endian values, the layout every runtime reads without conversion.
  const width = init.type === 'float32' ? 4 : 8;
  const raw = new DataView(new ArrayBuffer(width * init.values.length));
  init.values.forEach((v, i) => {
    if (init.type === 'float32') raw.setFloat32(4 * i, v, true);
    else raw.setBigInt64(8 * i, BigInt(v), true);
  });
  w.bytes(9, new Uint8Array(raw.buffer));
}

/** Encodes a model as ONNX protobuf bytes. */
export function encodeModel(model: ModelSpec): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, model.irVersion);
  w.string(2, model.producerName);
  w.string(3, model.producerVersion);
  if (model.doc) w.string(6, model.doc);
  w.message(7, (g) => {
    for (const node of model.graph.nodes) g.message(1, (n) => writeNode(n, node));
    g.string(2, model.graph.name);
    for (const init of model.graph.initializers) g.message(5, (t) => writeInitializer(t, init));
    if (model.graph.doc) g.string(10, model.graph.doc);
    for (const input of model.graph.inputs) g.message(11, (v) => writeValueInfo(v, input));
    for (const output of model.graph.outputs) g.message(12, (v) => writeValueInfo(v, output));
  });
  w.message(8, (o) => o.string(1, '').int(2, model.opset));
  for (const [key, value] of Object.entries(model.metadata ?? {})) {
    w.message(14, (e) => e.string(1, key).string(2, value));
  }
  return w.finish();
}

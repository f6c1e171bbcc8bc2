/**
 * The intermediate representation of an elementwise program: a DAG in topological order.
 *
 * Nodes are either tensors (same length as every input tensor) or scalars (one number per run).
 * Binary arithmetic takes two tensors, or a tensor on the left and a scalar on the right (broadcast).
 * `lerp` takes two tensors and a scalar weight, with PyTorch's two-branch evaluation (see TensorOps).
 * Outputs map slot names to nodes; an output may be an input node (a copy).
 */

export type BinaryOp = 'add' | 'sub' | 'mul' | 'div';
export type UnaryOp = 'sqrt' | 'abs';

export type IRNode =
  | { readonly id: number; readonly op: 'input'; readonly kind: 'tensor'; readonly name: string }
  | { readonly id: number; readonly op: 'scalar'; readonly kind: 'scalar'; readonly name: string }
  | { readonly id: number; readonly op: UnaryOp; readonly kind: 'tensor'; readonly args: readonly [number] }
  | {
      readonly id: number;
      readonly op: BinaryOp;
      readonly kind: 'tensor';
      /** Left is always a tensor; right is a tensor or a scalar. */
      readonly args: readonly [number, number];
    }
  | {
      readonly id: number;
      readonly op: 'lerp';
      readonly kind: 'tensor';
      readonly args: readonly [number, number, number];
    };

export interface Graph {
  /** The traced program's key. */
  readonly key: string;
  /** Nodes in topological order; `nodes[i].id === i`. */
  readonly nodes: readonly IRNode[];
  /** Tensor input names, in the program's order. */
  readonly inputs: readonly string[];
  /** Scalar input names, in the program's order. */
  readonly scalars: readonly string[];
  /** Output slot name → node id. */
  readonly outputs: Readonly<Record<string, number>>;
}

/** Operand ids of a node (empty for inputs). */
export function nodeArgs(node: IRNode): readonly number[] {
  return 'args' in node ? node.args : [];
}

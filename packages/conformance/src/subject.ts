import type { HostGrads, HostRecord, ReplaySubject } from './backend.js';

/**
 * The calls every optimizer of this project answers, whatever its tensors: what
 * {@link optimizerSubject} drives. Methods may return promises (asynchronous adapters).
 */
export interface OptimizerLike<G> {
  train?(): unknown;
  eval?(): unknown;
  step(gradsOrClosure: G | (() => unknown), extras?: { loss?: number }): unknown;
  stateDict?(): unknown;
  loadStateDict?(state: never): unknown;
  readonly paramGroups?: ReadonlyArray<object>;
  dispose(): unknown;
}

/** How a backend moves values between the host and an optimizer's tensors. */
export interface SubjectConversions<G> {
  /** Whether the optimizer is a closure class (its step takes a closure; no train/eval). */
  readonly closure: boolean;
  /** A step's host gradients as the optimizer takes them (nulls and malformed input pass through). */
  grads(grads: HostGrads): G;
  /** What the parameter buffers hold now, on the host. */
  params(): HostRecord | Promise<HostRecord>;
  /** x without changing anything, on the host. */
  evalParams(): HostRecord | Promise<HostRecord>;
}

/**
 * Wraps an optimizer as a {@link ReplaySubject}: closure classes step through a closure returning
 * the gradients (with the loss when the case records one), the others take `{ loss }` as extras.
 * Synchronous optimizers stay synchronous.
 */
export function optimizerSubject<G>(optimizer: OptimizerLike<G>, io: SubjectConversions<G>): ReplaySubject {
  const { closure } = io;
  return {
    // What train/eval return is passed on, so that a promise is awaited.
    train: () => (closure ? undefined : optimizer.train?.()) as void | Promise<void>,
    eval: () => (closure ? undefined : optimizer.eval?.()) as void | Promise<void>,
    step(grads, loss) {
      const converted = io.grads(grads);
      const result = closure
        ? optimizer.step(() => (loss === undefined ? converted : { loss, grads: converted }))
        : optimizer.step(converted, loss === undefined ? undefined : { loss });
      return result as void | Promise<void>;
    },
    params: () => io.params(),
    evalParams: () => io.evalParams(),
    stateDict: () => optimizer.stateDict?.(),
    loadStateDict: (state) => optimizer.loadStateDict?.(state as never) as void | Promise<void>,
    setOption(key, value) {
      const groups = optimizer.paramGroups as Array<Record<string, unknown>>;
      const previous = groups[0][key];
      for (const group of groups) group[key] = value;
      return previous;
    },
    dispose: () => optimizer.dispose() as void | Promise<void>,
  };
}

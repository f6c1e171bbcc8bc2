import type { Counters, ProgramRun, SlotSpec } from '@schedulefree/core';
import type { InferenceSession } from 'onnxruntime-common';
import type { CompiledProgram } from './compiled.js';
import { CHECK_OUTPUT } from './lower.js';
import {
  flatTensor,
  hostData,
  type OrtModule,
  type OrtTensor,
  onHost,
  release,
  scalarTensor,
  type TensorInput,
} from './runtime.js';

/** One parameter's place in its group's flat buffers. */
export interface ParamInfo {
  readonly name: string;
  readonly group: number;
  readonly offset: number;
  readonly size: number;
  readonly dims: readonly number[];
}

/** The outputs of one program run over a group, not yet adopted. */
export interface PendingRun {
  readonly group: FlatGroup;
  readonly outputs: Record<string, OrtTensor>;
  /** NaN when a gradient was not finite (device-side check), else 0. */
  readonly check: number;
}

/**
 * A parameter group's flat buffers: `param` and the algorithm's state slots, all one length, as
 * `ort.Tensor`s on the host or the GPU. Runs never write their inputs: each run's outputs replace
 * the slots when adopted, so a failed or discarded run leaves the group as it was.
 */
export class FlatGroup {
  slots: Record<string, OrtTensor> = {};
  /** Host buffers that a runtime filling preallocated outputs writes the next values into. */
  spare: Record<string, OrtTensor> = {};
  initialized = false;
  /** Per-parameter tensors handed out by `params()`, released at the next change. */
  views: Record<string, OrtTensor> | null = null;
  /** Whether runs write into {@link spare} buffers (set once the runtime has been probed). */
  preallocate = false;

  constructor(
    private readonly ort: OrtModule,
    readonly params: readonly ParamInfo[],
    readonly length: number,
    public counters: Counters,
  ) {}

  /** Sizes of the gradient parts the step graph concatenates (several parameters), else undefined. */
  get gradParts(): number[] | undefined {
    return this.params.length > 1 ? this.params.map((p) => p.size) : undefined;
  }

  /**
   * Runs a compiled program: feeds the slots (an uninitialized group's state starts as a copy of the
   * parameters or zeros), the gradients and the scalars, and returns the outputs without adopting
   * them. With `fresh`, outputs never go into spare buffers (they are handed to someone else).
   */
  async run(
    compiled: CompiledProgram,
    run: ProgramRun,
    opts: { grads?: Readonly<Record<string, TensorInput>>; fresh?: boolean; stateSlots: readonly SlotSpec[] },
  ): Promise<PendingRun> {
    const slots = this.initialized ? this.slots : this.initialSlots(opts.stateSlots);
    const feeds: Record<string, OrtTensor> = {};
    for (const port of compiled.lowered.inputs) {
      if (port.kind === 'scalar') {
        const value = run.scalars[port.slot];
        if (typeof value !== 'number')
          throw new Error(`program ${run.program.key}: no scalar "${port.slot}"`);
        feeds[port.name] = scalarTensor(this.ort, value);
      } else if (port.kind === 'grad-part' || port.slot === 'grad') {
        const index = port.kind === 'grad-part' ? Number(port.name.slice('grad.'.length)) : 0;
        const p = this.params[index];
        feeds[port.name] = flatTensor(this.ort, opts.grads![p.name], p.size);
      } else {
        const tensor = slots[port.slot];
        if (!tensor) throw new Error(`program ${run.program.key}: no state slot "${port.slot}"`);
        feeds[port.name] = tensor;
      }
    }
    let fetches: Record<string, OrtTensor> | undefined;
    if (this.preallocate && !opts.fresh) {
      fetches = {};
      for (const port of compiled.lowered.outputs) {
        if (port.kind !== 'tensor') continue;
        fetches[port.name] =
          this.spare[port.slot] ??
          new this.ort.Tensor('float32', new Float32Array(this.length), [this.length]);
      }
    }
    const results = fetches ? await compiled.session.run(feeds, fetches) : await compiled.session.run(feeds);
    const outputs: Record<string, OrtTensor> = {};
    let check = 0;
    for (const port of compiled.lowered.outputs) {
      if (port.kind === 'check') {
        check = ((results[CHECK_OUTPUT] as OrtTensor).data as Float32Array)[0];
        continue;
      }
      // A runtime that filled our buffer may still return another tensor object over other memory.
      outputs[port.slot] = fetches ? fetches[port.name] : (results[port.name] as OrtTensor);
    }
    return { group: this, outputs, check };
  }

  /**
   * Takes a run's outputs as the slots; replaced buffers become spares or are released (`keep`: left
   * alone, the caller holds them).
   */
  adopt(run: PendingRun, keep = false): void {
    this.releaseViews();
    for (const [slot, tensor] of Object.entries(run.outputs)) {
      const old = this.slots[slot];
      this.slots[slot] = tensor;
      if (this.spare[slot] === tensor) delete this.spare[slot];
      if (keep || !old || old === tensor) continue;
      // The replaced host buffer receives the run after next (ping-pong); device buffers are freed.
      if (this.preallocate && onHost(old)) this.spare[slot] = old;
      else release(old);
    }
  }

  /** Releases the outputs of a run that will not be adopted. */
  discard(run: PendingRun): void {
    for (const t of Object.values(run.outputs)) release(t);
  }

  /**
   * Per-parameter tensors over a flat buffer of this group. `view`: the group keeps ownership (host
   * views, or GPU slices released at the next change); `copy`: new tensors for the caller;
   * `transfer`: the caller takes over `flat` itself (a buffer made for it).
   */
  async perParameter(
    flat: OrtTensor,
    mode: 'view' | 'copy' | 'transfer',
    splitSession: () => Promise<InferenceSession>,
  ): Promise<Record<string, OrtTensor>> {
    const result: Record<string, OrtTensor> = {};
    if (onHost(flat)) {
      const data = hostData(flat);
      for (const p of this.params) {
        const part = data.subarray(p.offset, p.offset + p.size);
        result[p.name] = new this.ort.Tensor('float32', mode === 'copy' ? part.slice() : part, p.dims);
      }
      return result;
    }
    if (this.params.length === 1 && mode !== 'copy') {
      // The buffer itself with the parameter's dimensions, read through the original tensor; a
      // transferred one is freed with its view.
      const p = this.params[0];
      result[p.name] = this.ort.Tensor.fromGpuBuffer(flat.gpuBuffer, {
        dataType: 'float32',
        dims: p.dims,
        download: () => flat.getData() as Promise<Float32Array>,
        ...(mode === 'transfer' ? { dispose: () => flat.dispose() } : {}),
      });
      return result;
    }
    const outputs = await (await splitSession()).run({ flat });
    if (mode === 'transfer') flat.dispose();
    this.params.forEach((p, i) => {
      result[p.name] = outputs[`p.${i}`] as OrtTensor;
    });
    return result;
  }

  releaseViews(): void {
    if (!this.views) return;
    // Single-parameter GPU views share the group's buffer and own nothing; slices own theirs.
    if (this.params.length > 1) for (const t of Object.values(this.views)) release(t);
    this.views = null;
  }

  /** Drops the state slots (the group is uninitialized afterwards); the parameters stay. */
  releaseState(): void {
    this.releaseViews();
    for (const [slot, tensor] of Object.entries(this.slots)) if (slot !== 'param') release(tensor);
    this.slots = { param: this.slots.param };
    for (const [slot, tensor] of Object.entries(this.spare)) if (slot !== 'param') release(tensor);
    this.spare = this.spare.param ? { param: this.spare.param } : {};
    this.initialized = false;
  }

  /** `param` plus state slots as they start: copies of the parameters (`clone`) or zeros. */
  private initialSlots(specs: readonly SlotSpec[]): Record<string, OrtTensor> {
    const slots: Record<string, OrtTensor> = { param: this.slots.param };
    for (const spec of specs) {
      // A run never writes its inputs, so the parameter buffer itself serves as the initial copy.
      slots[spec.name] =
        spec.init === 'clone'
          ? this.slots.param
          : new this.ort.Tensor('float32', new Float32Array(this.length), [this.length]);
    }
    return slots;
  }
}

import type { MemberView } from '@schedulefree/core';
import { hostData, type OrtModule, type OrtTensor, onHost, type TensorInput } from './runtime.js';
import type { SessionCache } from './sessions.js';
import { splitModel } from './split.js';
import type { OnnxStorage } from './storage.js';

/** What cutting a group's flat tensor into its parameters needs. */
export interface ViewContext {
  readonly ort: OrtModule;
  readonly storage: OnnxStorage;
  readonly sessions: SessionCache;
  /** Each parameter's dimensions, as given at creation. */
  readonly dims: ReadonlyMap<string, readonly number[]>;
}

type Views = Record<string, OrtTensor>;

/** Per-parameter device tensors already cut from a flat one that the optimizer keeps. */
const splits = new WeakMap<OrtTensor, Views>();

/**
 * One member's parameters, with their dimensions, from its flat tensor. `owned: false` — the flat
 * tensor stays the optimizer's and the views are valid until it is replaced (host views of its
 * data; a single device parameter is the buffer itself; several are cut by a split session and
 * released with it). `owned: true` — the caller takes over the flat tensor along with the views.
 * Synchronous unless device parameters must be cut.
 */
export function perParameter(
  context: ViewContext,
  member: MemberView<TensorInput>,
  flat: OrtTensor,
  owned: boolean,
): Views | Promise<Views> {
  const { ort, storage, dims } = context;
  const views: Views = {};
  if (onHost(flat)) {
    const data = hostData(flat);
    for (const p of member.params) {
      views[p.name] = new ort.Tensor(
        'float32',
        data.subarray(p.offset, p.offset + p.size),
        dims.get(p.name)!,
      );
    }
    return views;
  }
  if (member.params.length === 1) {
    const { name } = member.params[0];
    views[name] = ort.Tensor.fromGpuBuffer(flat.gpuBuffer, {
      dataType: 'float32',
      dims: dims.get(name)!,
      download: () => flat.getData() as Promise<Float32Array>,
      ...(owned ? { dispose: () => storage.dispose(flat) } : {}),
    });
    return views;
  }
  const known = owned ? undefined : splits.get(flat);
  return known ?? cut(context, member, flat, owned);
}

async function cut(
  context: ViewContext,
  member: MemberView<TensorInput>,
  flat: OrtTensor,
  owned: boolean,
): Promise<Views> {
  const { storage, sessions, dims } = context;
  const params = member.params.map((p) => ({ ...p, dims: dims.get(p.name)! }));
  const session = await sessions.model(`split:${member.group}`, () => splitModel(params, member.size));
  const outputs = await session.run({ flat });
  const views: Views = {};
  params.forEach((p, i) => {
    views[p.name] = outputs[`p.${i}`] as OrtTensor;
  });
  if (owned) storage.dispose(flat);
  else {
    storage.attach(flat, Object.values(views));
    splits.set(flat, views);
  }
  return views;
}

/** Several members' views as one record (a promise only when one of them is). */
export function joinViews(parts: ReadonlyArray<Views | Promise<Views>>): Views | Promise<Views> {
  if (parts.every((p) => !(p instanceof Promise))) return Object.assign({}, ...(parts as Views[]));
  return Promise.all(parts).then((all) => Object.assign({}, ...all));
}

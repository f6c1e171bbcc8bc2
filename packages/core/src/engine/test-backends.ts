import { BACKEND_SPEC_VERSION, type Backend, type RunReport } from '../backend.js';
import { typedArrayBackend } from '../typed-array/backend.js';
import type { TypedArray } from '../typed-array/ops.js';

/**
 * Backends for the engine's own tests, built from the typed-array backend: one whose runs and reads
 * complete on a later task (like a GPU queue), and one with the flat layout whose runs never write
 * their inputs and check gradients "on the device" (like ONNX Runtime on WebGPU).
 */

/** The core's lib has no timers' types; tests run where `setTimeout` exists. */
const timers = globalThis as unknown as { setTimeout(fn: () => void, ms: number): unknown };

/** Resolves after `ms` milliseconds (on a later task). */
export const sleep = (ms = 0): Promise<void> => new Promise((resolve) => timers.setTimeout(resolve, ms));

const later = <R>(fn: () => R): Promise<R> => sleep().then(fn);

/** Runs and reads complete on a later task; the record of runs shows their order. */
export function deferredBackend(log: string[] = []): Backend<TypedArray> {
  const base = typedArrayBackend('fused');
  return {
    ...base,
    name: 'test-deferred',
    storage: { ...base.storage, read: (t) => later(() => t.slice()) },
    execution: {
      run: (request) =>
        later(() => {
          log.push(request.program.key);
          base.execution.run(request);
        }),
    },
  };
}

/**
 * The flat layout over typed arrays, immutable runs (outputs are new arrays), and a device-side
 * finiteness check: gradients are never checked on the host.
 */
export function flatDeviceBackend(): Backend<TypedArray> {
  const base = typedArrayBackend('fused');
  return {
    specVersion: BACKEND_SPEC_VERSION,
    name: 'test-flat-device',
    storage: {
      ...base.storage,
      allFinite: () => null,
      split: (t, sizes) => {
        let at = 0;
        return sizes.map((n) => {
          at += n;
          return t.slice(at - n, at);
        });
      },
      concat(parts) {
        const out = new (parts[0].constructor as Float64ArrayConstructor)(
          parts.reduce((n, p) => n + p.length, 0),
        );
        let at = 0;
        for (const p of parts) {
          out.set(p, at);
          at += p.length;
        }
        return out;
      },
    },
    execution: {
      run(request): RunReport {
        let finite = true;
        const members = request.members.map((m) => {
          const slots: Record<string, TypedArray> = {};
          for (const [name, t] of Object.entries(m.slots)) slots[name] = t.slice();
          if (m.gradParts) {
            const grad = new Float64Array(m.sizes.reduce((a, b) => a + b, 0));
            let at = 0;
            m.gradParts.forEach((g) => {
              grad.set(g, at);
              at += g.length;
            });
            slots.grad = grad;
          }
          if (request.checkGradients && slots.grad && !slots.grad.every(Number.isFinite)) finite = false;
          return { original: m, copy: { slots, sizes: m.sizes } };
        });
        base.execution.run({ ...request, members: members.map((m) => m.copy) });
        // Outputs go back as new arrays; inputs are untouched.
        for (const { original, copy } of members) {
          for (const name of request.program.outputs) original.slots[name] = copy.slots[name];
        }
        return request.checkGradients ? { gradientsFinite: finite } : {};
      },
    },
    capabilities: { layout: 'flat', immutable: true, deviceFiniteCheck: true },
  };
}

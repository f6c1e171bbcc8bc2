import type { KernelPlan } from '@schedulefree/core';
import type { InferenceSession } from 'onnxruntime-common';
import { CHECK_OUTPUT, type LoweredGraph, type LowerOptions, lowerPlan } from './lower.js';
import { modelOf } from './model.js';
import type { ModelSpec } from './onnx-model.js';
import type { StateLocation } from './options.js';
import { createSession, type OrtModule } from './runtime.js';

/** A plan lowered for one group layout, with the session that runs it. */
export interface CompiledPlan {
  readonly lowered: LoweredGraph;
  readonly session: InferenceSession;
}

/**
 * The sessions of one optimizer, created on first use and kept for every later run: one per
 * program structure, lerp pattern and group layout (a pattern changes at most a few times in a run:
 * the averaging weight c passes 0.5 once, so ordinary steps all use one session), plus auxiliary
 * ones (cutting and merging flat buffers on the device).
 */
export class SessionCache {
  private readonly sessions = new Map<string, Promise<unknown>>();
  private readonly created: InferenceSession[] = [];

  constructor(
    private readonly ort: OrtModule,
    private readonly options: InferenceSession.SessionOptions,
    private readonly location: StateLocation,
    private readonly where: string,
  ) {}

  /** The session running `plan` over a group of this layout. */
  plan(plan: KernelPlan, layout: LowerOptions): Promise<CompiledPlan> {
    const parts = layout.gradParts && layout.gradParts.length > 1 ? layout.gradParts : undefined;
    const key = `${plan.graph.key}#${plan.pattern}|${layout.length}|${parts ?? ''}|${!!layout.checkGrad}|${!!layout.reduce}`;
    return this.cached(key, async () => {
      const lowered = lowerPlan(plan, { ...layout, gradParts: parts });
      const locations: Record<string, StateLocation> = {};
      for (const port of lowered.outputs)
        locations[port.name] = port.name === CHECK_OUTPUT || port.kind === 'sum' ? 'cpu' : this.location;
      const session = await createSession(
        this.ort,
        modelOf(lowered.graph, `Schedule-Free program ${plan.graph.key}`),
        { ...this.options, preferredOutputLocation: locations },
        this.where,
      );
      this.created.push(session);
      return { lowered, session };
    });
  }

  /**
   * The session of an auxiliary model (cutting or merging flat buffers) under a key of the caller's
   * choosing; its outputs stay on the device.
   */
  model(key: string, build: () => ModelSpec): Promise<InferenceSession> {
    return this.cached(`model:${key}`, async () => {
      const session = await createSession(
        this.ort,
        build(),
        { ...this.options, preferredOutputLocation: 'gpu-buffer' },
        this.where,
      );
      this.created.push(session);
      return session;
    });
  }

  /** Releases every session. */
  async dispose(): Promise<void> {
    // Creations still under way finish first, so their sessions are released too.
    await Promise.allSettled([...this.sessions.values()]);
    this.sessions.clear();
    const sessions = this.created.splice(0);
    for (const session of sessions) await session.release();
  }

  private cached<R>(key: string, create: () => Promise<R>): Promise<R> {
    let entry = this.sessions.get(key) as Promise<R> | undefined;
    if (!entry) {
      entry = create();
      this.sessions.set(key, entry);
      // A failed creation is not cached: the next call tries again.
      entry.catch(() => this.sessions.delete(key));
    }
    return entry;
  }
}

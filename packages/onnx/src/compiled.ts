import { type ElementwiseProgram, graphOf } from '@schedulefree/core';
import type { InferenceSession } from 'onnxruntime-common';
import { CHECK_OUTPUT, type LoweredGraph, type LowerOptions, lowerGraph } from './lower.js';
import { modelOf } from './model.js';
import { createSession, type OrtModule } from './runtime.js';

/** A program lowered for one group layout, with the session that runs it. */
export interface CompiledProgram {
  readonly lowered: LoweredGraph;
  readonly session: InferenceSession;
}

/**
 * The sessions of one optimizer, created on first use and kept for every later run: one per program
 * structure (the program's key) and group layout, plus auxiliary ones (splitting parameters).
 */
export class ProgramCache {
  private readonly sessions = new Map<string, Promise<unknown>>();
  private readonly created: InferenceSession[] = [];

  constructor(
    private readonly ort: OrtModule,
    private readonly options: InferenceSession.SessionOptions,
    private readonly location: 'cpu' | 'gpu-buffer',
    private readonly where: string,
  ) {}

  /**
   * The compiled program; `gradParts` is ignored for programs that read no gradient. One session per
   * structure, layout and lerp branch pattern: a branch pattern changes at most a few times (the
   * averaging weight c passes 0.5 once), so ordinary steps all use one session.
   */
  get(program: ElementwiseProgram, lowering: LowerOptions): Promise<CompiledProgram> {
    const reads = program.inputs.includes('grad');
    const parts =
      reads && lowering.gradParts && lowering.gradParts.length > 1 ? lowering.gradParts : undefined;
    const checkGrad = reads && !!lowering.checkGrad;
    const branches = lowering.branches ?? {};
    const pattern = Object.entries(branches)
      .map(([w, b]) => `${w}:${b}`)
      .join(',');
    const key = `${program.key}|${lowering.length}|${parts?.join(',') ?? ''}|${checkGrad}|${pattern}`;
    return this.cached(key, async () => {
      const lowered = lowerGraph(graphOf(program), {
        length: lowering.length,
        gradParts: parts,
        checkGrad,
        branches,
      });
      const locations: Record<string, 'cpu' | 'gpu-buffer'> = {};
      for (const port of lowered.outputs)
        locations[port.name] = port.name === CHECK_OUTPUT ? 'cpu' : this.location;
      const session = await createSession(
        this.ort,
        modelOf(lowered.graph, `Schedule-Free program ${program.key}`),
        { ...this.options, preferredOutputLocation: locations },
        this.where,
      );
      this.created.push(session);
      return { lowered, session };
    });
  }

  /** An auxiliary session under a key of the caller's choosing. */
  session(key: string, create: () => Promise<InferenceSession>): Promise<InferenceSession> {
    return this.cached(`aux:${key}`, async () => {
      const session = await create();
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

/** What each library's page module sets up: a Schedule-Free optimizer and its library's Adam, on one device. */
import type { AdapterInfo } from '../results.js';

export interface PageOptimizer {
  name: string;
  /** One step on fixed gradients that are already on the device. */
  step(): Promise<unknown> | unknown;
  /** Waits until the device has finished this optimizer's work (called inside each timed step). */
  sync(): Promise<void>;
}

/** Library-level allocation figures, where the library keeps them (tfjs `tf.memory()`). */
export interface LibraryMemory {
  numTensors: number;
  bytesInGPU: number;
}

export interface PageSetup {
  subject: PageOptimizer;
  baseline: PageOptimizer;
  adapter: AdapterInfo;
  /** How `sync` waits, in words, for the result. */
  sync: string;
  /** Which device counters apply: textures (WebGL), buffers (WebGPU), or none (CPU). */
  device: 'webgl' | 'webgpu' | 'cpu';
  memory?: () => LibraryMemory;
  floatsMovedPerParam: number;
  notes: string[];
  dispose(): Promise<void> | void;
}

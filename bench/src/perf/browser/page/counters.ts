/**
 * Counts, in the page, the calls that allocate device memory or read it back: WebGL textures and
 * read-backs, WebGPU buffers, textures and maps. The prototypes are wrapped once, before any library
 * creates a context, so every context and device of the page is counted.
 */

/** Running totals since the page loaded. */
export interface DeviceCalls {
  textures: number;
  gpuBuffers: number;
  readBacks: number;
}

const totals: DeviceCalls = { textures: 0, gpuBuffers: 0, readBacks: 0 };

type Method = (...args: unknown[]) => unknown;

function countCalls(
  proto: object | undefined,
  method: string,
  key: keyof DeviceCalls,
  counts: (args: unknown[]) => boolean = () => true,
): void {
  if (!proto) return;
  const target = proto as Record<string, Method>;
  const original = target[method];
  if (typeof original !== 'function') return;
  target[method] = function (this: unknown, ...args: unknown[]) {
    if (counts(args)) totals[key]++;
    return original.apply(this, args);
  };
}

/** GPUMapMode.READ: a map for reading is a read-back; a map for writing is an upload. */
const MAP_READ = 1;

let installed = false;

/** Wraps the allocating and reading methods of WebGL and WebGPU (once per page). */
export function installDeviceCounters(): void {
  if (installed) return;
  installed = true;
  const g = globalThis as unknown as Record<string, { prototype: object } | undefined>;
  for (const gl of ['WebGLRenderingContext', 'WebGL2RenderingContext']) {
    countCalls(g[gl]?.prototype, 'createTexture', 'textures');
    countCalls(g[gl]?.prototype, 'readPixels', 'readBacks');
  }
  countCalls(g.WebGL2RenderingContext?.prototype, 'getBufferSubData', 'readBacks');
  countCalls(g.GPUDevice?.prototype, 'createBuffer', 'gpuBuffers');
  countCalls(g.GPUDevice?.prototype, 'createTexture', 'gpuBuffers');
  countCalls(
    g.GPUBuffer?.prototype,
    'mapAsync',
    'readBacks',
    (args) => ((args[0] as number) & MAP_READ) !== 0,
  );
}

export function deviceCalls(): DeviceCalls {
  return { ...totals };
}

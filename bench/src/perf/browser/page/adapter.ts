/** Which device the page's backends run on, as the browser reports it. */
import type { AdapterInfo } from '../results.js';

/** The fields of GPUAdapterInfo the harness reads (WebGPU types are not in TypeScript's DOM lib). */
export interface GpuAdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

export function webgpuAdapterInfo(info: GpuAdapterInfoLike | undefined, fallback?: boolean): AdapterInfo {
  const renderer = info?.description || [info?.architecture, info?.device].filter(Boolean).join(' ');
  const isFallback = info?.isFallbackAdapter ?? fallback;
  return {
    api: 'webgpu',
    vendor: info?.vendor ?? '',
    renderer: renderer ?? '',
    ...(isFallback === undefined ? {} : { fallback: isFallback }),
  };
}

interface NavigatorGpu {
  gpu?: {
    requestAdapter(): Promise<{ info?: GpuAdapterInfoLike; isFallbackAdapter?: boolean } | null>;
  };
}

/** The adapter `navigator.gpu.requestAdapter()` gives this page (the one libraries get by default). */
export async function defaultWebgpuAdapter(): Promise<AdapterInfo> {
  const gpu = (navigator as unknown as NavigatorGpu).gpu;
  const adapter = gpu ? await gpu.requestAdapter() : null;
  if (!adapter) return { api: 'webgpu', vendor: '', renderer: 'no WebGPU adapter' };
  return webgpuAdapterInfo(adapter.info, adapter.isFallbackAdapter);
}

/**
 * The renderer of a fresh WebGL context of the same kind as the library's (the page's contexts all
 * go through the same ANGLE backend), from WEBGL_debug_renderer_info.
 */
export function webglAdapter(kind: 'webgl' | 'webgl2'): AdapterInfo {
  const canvas = document.createElement('canvas');
  const gl = canvas.getContext(kind) as WebGLRenderingContext | null;
  if (!gl) return { api: 'webgl', vendor: '', renderer: `no ${kind} context` };
  const ext = gl.getExtension('WEBGL_debug_renderer_info');
  const info: AdapterInfo = {
    api: 'webgl',
    vendor: String(gl.getParameter(ext ? ext.UNMASKED_VENDOR_WEBGL : gl.VENDOR)),
    renderer: String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER)),
  };
  gl.getExtension('WEBGL_lose_context')?.loseContext();
  return info;
}

export function cpuAdapter(description: string): AdapterInfo {
  return { api: 'cpu', vendor: '', renderer: description };
}

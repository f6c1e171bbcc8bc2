import type { ReplayBackend } from './backend.js';
import { coreFactory, coreReplayBackends, type TypedArrayFactory } from './core-backends.js';

/**
 * Where the CLI finds backends beyond the core's: each module exports
 * `conformanceBackends(): ReplayBackend[] | Promise<ReplayBackend[]>`. Adapters that are not
 * installed are simply absent. Third-party adapters are loaded with `--module`.
 */
export const adapterModules = [
  '@schedulefree/tfjs/conformance',
  '@schedulefree/onnx/conformance',
  '@schedulefree/gpujs/conformance',
];

/** Module providing extra typed-array factories (the wrapper classes) for the core backends. */
export const wrapperModule = '@schedulefree/wrapper';

async function tryImport(specifier: string): Promise<Record<string, unknown> | null> {
  try {
    return (await import(/* @vite-ignore */ specifier)) as Record<string, unknown>;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (
      code === 'ERR_MODULE_NOT_FOUND' ||
      code === 'MODULE_NOT_FOUND' ||
      code === 'ERR_PACKAGE_PATH_NOT_EXPORTED'
    )
      return null;
    throw error;
  }
}

/** Every backend the CLI can name: the core's (with wrapper classes if installed) and the adapters'. */
export async function discoverBackends(extraModules: readonly string[] = []): Promise<ReplayBackend[]> {
  const factories: TypedArrayFactory[] = [coreFactory];
  const wrapper = await tryImport(wrapperModule);
  if (wrapper && typeof wrapper.typedArrayFactory === 'function')
    factories.push(wrapper.typedArrayFactory as TypedArrayFactory);
  const backends = coreReplayBackends(factories);
  for (const specifier of [...adapterModules, ...extraModules]) {
    const mod = await tryImport(specifier);
    if (!mod) {
      if (extraModules.includes(specifier)) throw new Error(`cannot import backend module ${specifier}`);
      continue;
    }
    const provide = mod.conformanceBackends as (() => ReplayBackend[] | Promise<ReplayBackend[]>) | undefined;
    if (typeof provide === 'function') backends.push(...(await provide()));
  }
  return backends;
}

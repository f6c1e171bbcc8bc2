import { packageBuild } from '../../tsup.base';

// The GPU is passed in (`new AdamWScheduleFree(gpu, ...)`); the global only guards against bundling gpu.js.
export default packageBuild(['src/index.ts', 'src/conformance.ts'], {
  packageName: '@schedulefree/gpujs',
  fileName: 'schedulefree-gpujs',
  globalName: 'schedulefree.gpujs',
  globals: { 'gpu.js': 'GPU' },
});

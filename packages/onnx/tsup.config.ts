import { packageBuild } from '../../tsup.base';

// The runtime is passed in (`create(ort, ...)`); the globals only guard against bundling one.
export default packageBuild(['src/index.ts', 'src/conformance.ts'], {
  packageName: '@schedulefree/onnx',
  fileName: 'schedulefree-onnx',
  globalName: 'schedulefree.onnx',
  globals: { 'onnxruntime-web': 'ort', 'onnxruntime-common': 'ort' },
});

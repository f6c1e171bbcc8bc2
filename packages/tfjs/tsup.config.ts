import { packageBuild } from '../../tsup.base';

export default packageBuild(['src/index.ts', 'src/conformance.ts'], {
  packageName: '@schedulefree/tfjs',
  fileName: 'schedulefree-tfjs',
  globalName: 'schedulefree.tfjs',
  globals: { '@tensorflow/tfjs': 'tf' },
});

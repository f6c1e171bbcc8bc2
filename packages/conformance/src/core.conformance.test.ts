import { describe, it } from 'vitest';
import { coreReplayBackends } from './core-backends.js';
import { defineConformanceSuite } from './suite.js';

const backends = coreReplayBackends();
const reference = backends.find((b) => b.name === 'core-f64')!;
const wrapperOnly = { skip: {} as Record<string, string> };
for (const name of [
  'wrapper-sgd',
  'wrapper-rmsprop',
  'wrapper-adam-b1-0',
  'wrapper-reference-adamw',
  'wrapper-adam-frozen',
]) {
  wrapperOnly.skip[name] = 'wrapper classes are tested in @schedulefree/wrapper';
}

for (const backend of backends) {
  defineConformanceSuite(
    backend,
    { describe, it },
    { reference: backend === reference ? undefined : reference, ...wrapperOnly },
  );
}

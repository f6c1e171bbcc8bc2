/**
 * @schedulefree/conformance — the suite every schedulefree-js backend runs: golden float64
 * trajectories, random differential cases, invariants and error behaviour.
 * @packageDocumentation
 */
export * from './algorithms.js';
export * from './backend.js';
export * from './cases.js';
export * from './compare.js';
export * from './core-backends.js';
export * from './fuzz.js';
export * from './matrix.js';
export { adapterModules, discoverBackends } from './providers.js';
export * from './random.js';
export * from './replay.js';
export * from './subject.js';
export * from './suite.js';

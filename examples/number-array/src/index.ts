/**
 * An example schedulefree-js backend adapter over plain number arrays: see docs/adding-a-backend.md.
 * @packageDocumentation
 */
export * from './backend.js';
export { conformanceBackends } from './conformance.js';
export * from './optimizers.js';

import { fileURLToPath } from 'node:url';

const packages = fileURLToPath(new URL('./packages/', import.meta.url));

/** Workspace imports resolve to TypeScript sources, so no build is needed to test. */
export const workspaceAlias = [
  { find: /^@schedulefree\/wrapper\/essentials$/, replacement: `${packages}wrapper/src/essentials.ts` },
  { find: /^@schedulefree\/([a-z]+)\/conformance$/, replacement: `${packages}$1/src/conformance.ts` },
  { find: /^@schedulefree\/([a-z]+)$/, replacement: `${packages}$1/src/index.ts` },
];

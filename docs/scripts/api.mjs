// Generates the API reference (docs/api/) from the packages' TSDoc with TypeDoc and its Markdown
// plugin, one section per package, plus the sidebar the site reads. Run before `vitepress dev|build`.
import { existsSync, rmSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Application, Converter, ReflectionKind } from 'typedoc';

const docs = fileURLToPath(new URL('..', import.meta.url));
const root = resolve(docs, '..');
/** Packages in the order the reference lists them. */
const packages = ['core', 'wrapper', 'tfjs', 'onnx', 'gpujs', 'conformance'];
const out = resolve(docs, 'api');

const started = performance.now();
if (existsSync(out)) rmSync(out, { recursive: true });

const app = await Application.bootstrapWithPlugins({
  entryPoints: packages.map((p) => resolve(root, 'packages', p, 'src/index.ts')),
  entryPointStrategy: 'resolve',
  tsconfig: resolve(docs, 'tsconfig.api.json'),
  plugin: ['typedoc-plugin-markdown', 'typedoc-vitepress-theme'],
  out,
  name: 'API reference',
  readme: 'none',
  // One page per package (functions, types, constants), each class and interface on a page of its own.
  outputFileStrategy: 'members',
  membersWithOwnFile: ['Class', 'Interface'],
  hidePageHeader: true,
  hideBreadcrumbs: true,
  useCodeBlocks: true,
  excludePrivate: true,
  excludeProtected: true,
  excludeInternal: true,
  excludeExternals: true,
  sort: ['kind', 'alphabetical'],
  gitRevision: 'main',
  sourceLinkTemplate: 'https://github.com/schedulefree-js/schedulefree-js/blob/{gitRevision}/{path}#L{line}',
  docsRoot: docs,
  // The site builds its sidebar from the pages themselves (.vitepress/config.ts).
  sidebar: { autoConfiguration: false },
  // The packages' own typecheck guards their types; the reference only reads their comments.
  skipErrorChecking: true,
  logLevel: 'Warn',
  treatWarningsAsErrors: false,
  // Unresolvable {@link}s in the TSDoc render as plain text; the packages own their comments.
  validation: { notExported: false, invalidLink: false, notDocumented: false },
});

// TSDoc links TypeDoc cannot resolve render as plain text; report them as one count, not one line each.
const unresolved = new Set();
const warn = app.logger.warn.bind(app.logger);
app.logger.warn = (message, ...rest) => {
  const text = String(message);
  if (text.includes('but the link cannot be resolved')) unresolved.add(text.replace(/^"[^"]*" /, ''));
  else warn(message, ...rest);
};

// Name each package's module after the package, not its folder ("core/src" → "@schedulefree/core").
app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
  for (const module of context.project.getChildrenByKind(ReflectionKind.Module)) {
    const source = module.sources?.[0]?.fullFileName ?? '';
    const name = relative(resolve(root, 'packages'), source).split(/[\\/]/)[0];
    if (packages.includes(name)) module.name = `@schedulefree/${name}`;
  }
});

const project = await app.convert();
if (!project) throw new Error('TypeDoc could not convert the packages (see the messages above).');
await app.generateOutputs(project);
if (app.logger.hasErrors()) process.exit(1);
if (unresolved.size)
  console.log(`${unresolved.size} distinct TSDoc links could not be resolved and render as text.`);
console.log(
  `API reference written to ${relative(root, out)} in ${((performance.now() - started) / 1000).toFixed(1)} s`,
);

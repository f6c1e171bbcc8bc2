import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type DefaultTheme, defineConfig } from 'vitepress';
import { repoLinks } from './repo-links';

const docs = fileURLToPath(new URL('..', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Where the site is served from. `/` by default; set `DOCS_BASE=/schedulefree-js/` (leading and
 * trailing slash) to host it under a sub-path, e.g. on GitHub Pages.
 */
const base = process.env.DOCS_BASE ?? '/';
/** Links that leave docs/ (source files, examples) point at the repository. */
const repository = process.env.DOCS_REPOSITORY ?? 'https://github.com/schedulefree-js/schedulefree-js';

const packages = ['core', 'wrapper', 'tfjs', 'onnx', 'gpujs', 'conformance'];

/** A branch-and-merge glyph for the link to the source repository. */
const repositoryIcon =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"><circle cx="6" cy="5" r="2.5"/><circle cx="6" cy="19" r="2.5"/><circle cx="18" cy="8" r="2.5"/><path d="M6 7.5v9M18 10.5c0 4-6 3.5-10.5 7"/></svg>';

/** A package's classes and interfaces, each a page TypeDoc wrote (scripts/api.mjs). */
function apiPages(name: string): DefaultTheme.SidebarItem[] {
  const folder = `${docs}api/@schedulefree/${name}/`;
  if (!existsSync(folder)) throw new Error(`${folder} is missing: run \`node docs/scripts/api.mjs\` first.`);
  return [
    ['classes', 'Classes'],
    ['interfaces', 'Interfaces'],
  ]
    .filter(([kind]) => existsSync(folder + kind))
    .map(([kind, text]) => ({
      text,
      collapsed: false,
      items: readdirSync(folder + kind)
        .filter((file) => file.endsWith('.md'))
        .map((file) => file.replace(/\.md$/, ''))
        .sort((a, b) => a.localeCompare(b))
        .map((page) => ({ text: page, link: `/api/@schedulefree/${name}/${kind}/${page}` })),
    }));
}

/**
 * The API reference's sidebars: every package is listed, and a package's classes and interfaces
 * only on its own pages (every page carries its sidebar, so listing all of them everywhere would
 * weigh on every page).
 */
function apiSidebars(): DefaultTheme.SidebarMulti {
  const sidebar = (open?: string): DefaultTheme.SidebarItem[] => [
    {
      text: 'API reference',
      link: '/api/',
      items: packages.map((name) => ({
        text: `@schedulefree/${name}`,
        link: `/api/@schedulefree/${name}/`,
        ...(name === open ? { collapsed: false, items: apiPages(name) } : {}),
      })),
    },
    { text: 'Guide', link: '/guide/schedule-free' },
  ];
  const multi: DefaultTheme.SidebarMulti = { '/api/': sidebar() };
  for (const name of packages) multi[`/api/@schedulefree/${name}/`] = sidebar(name);
  return multi;
}

/** The page on adding a backend is written separately; list it once it exists. */
const addingABackend: DefaultTheme.SidebarItem[] = existsSync(`${docs}adding-a-backend.md`)
  ? [{ text: 'Adding a backend', link: '/adding-a-backend' }]
  : [];

const guide: DefaultTheme.SidebarItem[] = [
  {
    text: 'Guide',
    items: [
      { text: 'What is Schedule-Free?', link: '/guide/schedule-free' },
      { text: 'ScheduleFree+', link: '/guide/schedule-free-plus' },
      { text: 'Install', link: '/guide/install' },
      { text: 'Playground', link: '/playground' },
      { text: 'Learning-rate schedules', link: '/schedules' },
      { text: 'Results', link: '/results' },
    ],
  },
  {
    text: 'Adapters',
    items: [
      { text: 'Typed arrays (core)', link: '/core' },
      { text: 'TensorFlow.js', link: '/tfjs' },
      { text: 'Any base optimizer (wrapper)', link: '/wrapper' },
      { text: 'ONNX Runtime', link: '/onnx' },
      { text: 'gpu.js', link: '/gpujs' },
    ],
  },
  {
    text: 'Backends',
    items: [
      { text: 'Conformance suite', link: '/conformance' },
      ...addingABackend,
      { text: 'How it is built', link: '/architecture' },
    ],
  },
  { text: 'Reference', items: [{ text: 'API reference', link: '/api/' }] },
];

export default defineConfig({
  title: 'schedulefree-js',
  description:
    'Schedule-Free optimizers for JavaScript: no learning-rate schedule, no stopping time decided in advance.',
  lang: 'en',
  base,
  // Plain .html files and relative asset URLs: any static host serves the folder as it is.
  cleanUrls: false,
  // Page metadata in one shared chunk instead of inlined into each of the ~150 HTML files.
  metaChunk: true,
  // Every dead link fails the build; links out of docs/ are rewritten to the repository below.
  ignoreDeadLinks: false,
  srcExclude: ['**/node_modules/**', 'scripts/**', 'test/**'],
  head: [['link', { rel: 'icon', type: 'image/svg+xml', href: `${base}logo.svg` }]],
  markdown: {
    config: (md) => md.use(repoLinks, { docs, root, repository }),
  },
  themeConfig: {
    logo: '/logo.svg',
    nav: [
      { text: 'Guide', link: '/guide/schedule-free' },
      { text: 'Playground', link: '/playground' },
      { text: 'Results', link: '/results' },
      { text: 'API', link: '/api/' },
    ],
    sidebar: { ...apiSidebars(), '/': guide },
    outline: { level: [2, 3] },
    search: { provider: 'local' },
    // An inline icon: the theme's named icons are fetched from a CDN by the dev server.
    socialLinks: [{ icon: { svg: repositoryIcon }, link: repository, ariaLabel: 'Source repository' }],
    footer: { message: 'MIT licensed. Datasets: UCI Machine Learning Repository (CC BY 4.0).' },
  },
  vite: {
    // Outside the linted tree (biome skips node_modules), and kept between builds.
    cacheDir: `${docs}node_modules/.vite-docs`,
    resolve: {
      // The packages are imported by name, through their public entry points, from source: no
      // build of the packages is needed. One copy of each backend library, shared by the adapters.
      alias: [{ find: /^@schedulefree\/([a-z]+)$/, replacement: `${root}packages/$1/src/index.ts` }],
      dedupe: ['@tensorflow/tfjs', 'onnxruntime-web', 'gpu.js'],
    },
    server: { fs: { allow: [root] } },
    // Bundled once when the dev server starts, so opening the playground does not reload the page.
    optimizeDeps: {
      include: [
        '@tensorflow/tfjs',
        '@tensorflow/tfjs-backend-wasm',
        '@tensorflow/tfjs-backend-webgpu',
        'onnxruntime-web/webgpu',
        'gpu.js',
        'uplot',
      ],
    },
    build: { chunkSizeWarningLimit: 2048 },
  },
});

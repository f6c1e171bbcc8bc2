import { existsSync, statSync } from 'node:fs';
import { dirname, relative, resolve, sep } from 'node:path';
import type { MarkdownRenderer } from 'vitepress';

export interface RepoLinkOptions {
  /** Absolute path of docs/, with a trailing separator. */
  docs: string;
  /** Absolute path of the repository root, with a trailing separator. */
  root: string;
  /** The repository's web address, e.g. https://github.com/owner/name. */
  repository: string;
}

/**
 * The Markdown pages are also read on GitHub, where a link such as `../packages/gpujs/examples/x.ts`
 * or `results/` works. On the site those are not pages, so this rewrites every relative link that
 * does not lead to a page of the site (a file outside docs/, a folder, a JSON or HTML file) to the
 * same file in the repository. Links to pages and anchors are left to VitePress, which checks them.
 */
export function repoLinks(md: MarkdownRenderer, { docs, root, repository }: RepoLinkOptions): void {
  const previous = md.renderer.rules.link_open;
  md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
    const token = tokens[idx];
    const href = token.attrGet('href');
    const page = (env as { path?: string }).path;
    if (href && page && isRelative(href)) {
      const [path, hash = ''] = href.split('#');
      const target = resolve(dirname(page), decodeURI(path));
      if (!isSitePage(target, docs)) {
        const kind = existsSync(target) && statSync(target).isDirectory() ? 'tree' : 'blob';
        const inRepo = relative(root, target).split(sep).join('/');
        token.attrSet('href', `${repository}/${kind}/main/${inRepo}${hash ? `#${hash}` : ''}`);
        token.attrSet('target', '_blank');
        token.attrSet('rel', 'noreferrer');
      }
    }
    return previous ? previous(tokens, idx, options, env, self) : self.renderToken(tokens, idx, options);
  };
}

function isRelative(href: string): boolean {
  return !/^([a-z][a-z0-9+.-]*:|#|\/)/i.test(href) && href !== '';
}

/** A Markdown page under docs/ (or a folder with an index.md), which VitePress turns into a page. */
function isSitePage(target: string, docs: string): boolean {
  if (!target.startsWith(docs)) return false;
  if (target.endsWith('.md') || target.endsWith('.html')) {
    return existsSync(target.replace(/\.html$/, '.md'));
  }
  if (existsSync(target) && statSync(target).isDirectory()) return existsSync(resolve(target, 'index.md'));
  return !existsSync(target) && existsSync(`${target}.md`);
}

/**
 * Code blocks of a README, with the fence's info string: `ts` runs in Node, `ts browser` in
 * Chromium, `ts vitest` as a vitest file, `html` as a page; `sh` blocks are shown, not run.
 */
export function codeBlocks(markdown) {
  const blocks = [];
  const fence = /^```([^\n]*)\n([\s\S]*?)^```$/gm;
  for (const match of markdown.matchAll(fence)) {
    const [language = '', ...tags] = match[1].trim().split(/\s+/);
    blocks.push({ language, tags, code: match[2], line: markdown.slice(0, match.index).split('\n').length });
  }
  return blocks;
}

/** The part of a markdown document under the heading that starts with `title`, up to the next one of its level. */
export function section(markdown, title) {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => /^#+ /.test(line) && line.replace(/^#+ /, '').startsWith(title));
  if (start < 0) throw new Error(`no section "${title}"`);
  const level = lines[start].match(/^#+/)[0].length;
  const end = lines.findIndex((line, i) => i > start && new RegExp(`^#{1,${level}} `).test(line));
  return lines.slice(start, end < 0 ? undefined : end).join('\n');
}

/** What a block is for, from its language and tags. */
export function kindOf(block) {
  if (block.language === 'html') return 'page';
  if (!['ts', 'js', 'typescript', 'javascript'].includes(block.language)) return 'shown';
  if (block.tags.includes('browser')) return 'browser';
  if (block.tags.includes('vitest')) return 'vitest';
  return 'node';
}

/** Links of a markdown document: `[text](target)` and bare `<https://...>`. */
export function links(markdown) {
  return [...markdown.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]);
}

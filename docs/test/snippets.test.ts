/**
 * The code blocks of documentation pages, run as written: every `ts` block of the listed pages (or
 * of a section of a page) runs as an ES module with the workspace's packages, and where a line
 * `console.log(…); // text` shows its output, what it printed must be exactly that text.
 *
 * Run by `pnpm test` (vitest); add a page here when all its `ts` blocks are meant to run.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';

const docs = fileURLToPath(new URL('..', import.meta.url));

/** Pages whose `ts` blocks all run, with the section (heading prefix) to take, if only one. */
const PAGES: Array<{ file: string; section?: string }> = [
  { file: 'guide/schedule-free-plus.md' },
  { file: 'core.md', section: 'ScheduleFree+' },
];

interface Block {
  code: string;
  line: number;
}

/** The `ts` fenced blocks of a markdown text (indented ones in list items too), with their first line. */
export function tsBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const fence = /^( *)```ts\n([\s\S]*?)^\1```$/gm;
  for (const match of markdown.matchAll(fence)) {
    const indent = match[1].length;
    const code = match[2]
      .split('\n')
      .map((l) => l.slice(Math.min(indent, l.length - l.trimStart().length)))
      .join('\n');
    blocks.push({ code, line: markdown.slice(0, match.index).split('\n').length });
  }
  return blocks;
}

/**
 * The part of a page under the first heading that starts with `title`, to the next heading of its
 * level, blank lines above it kept so that line numbers stay the page's.
 */
function section(markdown: string, title: string): string {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => /^#+ /.test(l) && l.replace(/^#+ /, '').startsWith(title));
  if (start < 0) throw new Error(`no section "${title}"`);
  const level = lines[start].match(/^#+/)![0].length;
  const end = lines.findIndex((l, i) => i > start && new RegExp(`^#{1,${level}} `).test(l));
  return [...lines.slice(0, start).map(() => ''), ...lines.slice(start, end < 0 ? undefined : end)].join(
    '\n',
  );
}

/** The outputs a block shows: `console.log(…); // text` lines, in order. */
function shownOutputs(code: string): string[] {
  return [...code.matchAll(/^\s*console\.log\(.*\);\s*\/\/ (.+)$/gm)].map((m) => m[1].trim());
}

const scratch = mkdtempSync(join(tmpdir(), 'doc-snippets-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('documentation snippets run as written', () => {
  it('finds the blocks it runs', () => {
    const blocks = tsBlocks('text\n```ts\nconst a = 1;\n```\n- item\n\n  ```ts\n  const b = 2;\n  ```\n');
    expect(blocks.map((b) => [b.code, b.line])).toEqual([
      ['const a = 1;\n', 2],
      ['const b = 2;\n', 7],
    ]);
    expect(shownOutputs('console.log(x); // 1 2\nconsole.log(y);\n')).toEqual(['1 2']);
  });

  for (const page of PAGES) {
    const text = readFileSync(join(docs, page.file), 'utf8');
    const blocks = tsBlocks(page.section ? section(text, page.section) : text);
    it(`${page.file}${page.section ? ` (${page.section})` : ''} has blocks to run`, () => {
      expect(blocks.length).toBeGreaterThan(0);
    });
    blocks.forEach((block, i) => {
      it(`${page.file}, block ${i + 1} (line ${block.line})`, async () => {
        const file = join(scratch, `${page.file.replace(/\W/g, '-')}-${i}.ts`);
        writeFileSync(file, block.code);
        const printed: string[] = [];
        const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
          printed.push(args.map(String).join(' '));
        });
        try {
          await import(/* @vite-ignore */ file);
        } finally {
          log.mockRestore();
        }
        const shown = shownOutputs(block.code);
        expect(printed.slice(0, shown.length)).toEqual(shown);
        expect(printed).toHaveLength(shown.length);
      });
    });
  }
});

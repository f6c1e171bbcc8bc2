/**
 * A local HTTP server for the page: the bundle, and onnxruntime-web's .wasm/.mjs files under /ort/.
 * Cross-origin isolated (COOP/COEP), as a page that wants threaded wasm must be.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, normalize } from 'node:path';

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.map': 'application/json',
};

const page =
  '<!doctype html><meta charset="utf-8"><title>schedulefree browser perf</title><script type="module" src="/main.js"></script>';

function ortDist(): string {
  return dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
}

/** A file under `root`, or null when the path leaves it or does not exist. */
function fileUnder(root: string, path: string): string | null {
  const file = normalize(join(root, path));
  if (!file.startsWith(root)) return null;
  return existsSync(file) && statSync(file).isFile() ? file : null;
}

export interface PageServer {
  url: string;
  close(): Promise<void>;
}

export async function servePage(bundleDir: string): Promise<PageServer> {
  const ort = ortDist();
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    if (path === '/' || path === '/index.html') {
      res.setHeader('Content-Type', types['.html']);
      res.end(page);
      return;
    }
    const file = path.startsWith('/ort/') ? fileUnder(ort, path.slice(5)) : fileUnder(bundleDir, path);
    if (!file) {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    res.setHeader('Content-Type', types[extname(file)] ?? 'application/octet-stream');
    res.end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * A minimal static file server for the built site, as any static host would serve it: files only,
 * no rewrites, no special headers (so no cross-origin isolation), under a sub-path.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.csv': 'text/csv',
  '.wasm': 'application/wasm',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain',
};

export interface StaticSite {
  /** e.g. http://127.0.0.1:PORT/schedulefree-js/ */
  readonly url: string;
  /** Paths that were asked for and not found. */
  readonly missing: string[];
  close(): Promise<void>;
}

export async function serveStatic(folder: string, base: string): Promise<StaticSite> {
  const missing: string[] = [];
  const server: Server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
    let file = path.startsWith(base) ? normalize(join(folder, path.slice(base.length))) : '';
    if (file && existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!file.startsWith(folder) || !existsSync(file)) {
      missing.push(path);
      response.writeHead(404, { 'content-type': types['.html'] });
      response.end('not found');
      return;
    }
    response.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${base}`,
    missing,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

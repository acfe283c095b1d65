import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NextFunction, Request, Response } from 'express';

// Two levels up from this file: the project root (src/web/, tests run the TypeScript sources) or
// dist/ (dist/src/web/, the build's output).
const BASE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// The built-in web client's files (the build copies public/** to dist/public).
export const PUBLIC_DIR = path.join(BASE_DIR, 'public');

// The typed client compiled to ES modules (client/build.mjs writes dist/client): beside this
// file's build, or in the build output when running from the sources.
export const CLIENT_DIR = existsSync(path.join(BASE_DIR, 'client', 'index.js')) ? path.join(BASE_DIR, 'client') : path.join(BASE_DIR, 'dist', 'client');

// The page's two libraries, served from their packages as they ship them (ES module builds), at
// fixed addresses: no CDN, no copy in the repository. Swagger UI renders /docs the same way
// (its source maps, several megabytes, are left out).
export const VENDOR_FILES: readonly { route: string; pkg: string; file: string; sourceMap?: false }[] = [
  { route: '/vendor/marked.esm.js', pkg: 'marked', file: 'lib/marked.esm.js' },
  { route: '/vendor/purify.es.mjs', pkg: 'dompurify', file: 'dist/purify.es.mjs' },
  { route: '/docs/swagger-ui-bundle.js', pkg: 'swagger-ui-dist', file: 'swagger-ui-bundle.js', sourceMap: false },
  { route: '/docs/swagger-ui.css', pkg: 'swagger-ui-dist', file: 'swagger-ui.css', sourceMap: false },
];

// Paths that belong to the API and transports: never answered from public/, whatever it holds.
const RESERVED = /^\/(api|health|socket\.io|internal)(\/|$)/i;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

interface StaticFile {
  body: Buffer;
  contentType: string;
  etag: string;
}

// Loaded once at start: the files are few and small, and a fixed table of exact paths leaves no
// room for traversal (`/../x`, encoded slashes) or for serving anything but what the folder holds.
// `mount` is the address of the folder ('' for the site's root, '/client' …).
export function loadStaticFiles(root: string, mount = ''): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  const walk = (dir: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // no public/ folder: nothing to serve
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) {
        const contentType = CONTENT_TYPES[path.extname(entry.name).toLowerCase()];
        if (!contentType) continue;
        files.set(`${mount}/${path.relative(root, full).split(path.sep).join('/')}`, staticFile(readFileSync(full), contentType));
      }
    }
  };
  walk(root);
  const index = files.get(`${mount}/index.html`);
  if (index && mount === '') files.set('/', index);
  return files;
}

// The vendor files, and their source maps where the package ships them.
export function loadVendorFiles(): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const { route, pkg, file, sourceMap } of VENDOR_FILES) {
    const full = path.join(packageRoot(pkg), file);
    files.set(route, staticFile(readFileSync(full), CONTENT_TYPES[path.extname(file).toLowerCase()] ?? CONTENT_TYPES['.js']));
    if (sourceMap !== false && existsSync(`${full}.map`)) files.set(`${route}.map`, staticFile(readFileSync(`${full}.map`), CONTENT_TYPES['.map']));
  }
  return files;
}

// The folder of an installed package (its package.json), found the way Node resolves it.
function packageRoot(name: string): string {
  const require = createRequire(import.meta.url);
  let dir = path.dirname(require.resolve(name));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === name) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the folder of the package ${name}`);
    dir = up;
  }
}

function staticFile(body: Buffer, contentType: string): StaticFile {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  return { body, contentType, etag };
}

// Answers GET/HEAD for the known files and passes everything else on to the router.
export function staticFilesMiddleware(files: Map<string, StaticFile>) {
  return (req: Request, res: Response, next: NextFunction) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || RESERVED.test(req.path)) return next();
    const file = files.get(req.path);
    if (!file) return next();
    res.setHeader('Content-Type', file.contentType);
    // Unversioned file names: the browser keeps a copy but asks every time (cheap 304s).
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('ETag', file.etag);
    // Content-Security-Policy, nosniff, framing and the rest: securityHeaders(), on every response.
    if (matchesEtag(req.header('if-none-match'), file.etag)) {
      res.status(304).end();
      return;
    }
    res.setHeader('Content-Length', String(file.body.length));
    res.status(200);
    if (req.method === 'HEAD') res.end();
    else res.end(file.body);
  };
}

function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t === etag || t === `W/${etag}`;
  });
}

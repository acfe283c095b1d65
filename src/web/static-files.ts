import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NextFunction, Request, Response } from 'express';

// The built-in web client's files. Two levels up from this file is the project root in both
// layouts: src/web/ (tests run the TypeScript sources) and dist/src/web/ (the build copies
// public/** to dist/public).
export const PUBLIC_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../public');

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
};

// Same-origin only; socket.io.js is served by the Socket.IO server on this origin.
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

interface StaticFile {
  body: Buffer;
  contentType: string;
  etag: string;
}

// Loaded once at start: the files are few and small, and a fixed table of exact paths leaves no
// room for traversal (`/../x`, encoded slashes) or for serving anything but what public/ holds.
export function loadStaticFiles(root: string): Map<string, StaticFile> {
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
        const body = readFileSync(full);
        const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
        files.set('/' + path.relative(root, full).split(path.sep).join('/'), { body, contentType, etag });
      }
    }
  };
  walk(root);
  const index = files.get('/index.html');
  if (index) files.set('/', index);
  return files;
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
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (file.contentType.startsWith('text/html')) {
      res.setHeader('Content-Security-Policy', CSP);
      res.setHeader('Referrer-Policy', 'no-referrer');
      res.setHeader('X-Frame-Options', 'DENY');
    }
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

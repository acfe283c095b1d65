import helmet from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';

// The built-in web client is same-origin only: its scripts and styles come from public/, the
// Socket.IO browser client from the Socket.IO server on this origin, and it talks to this origin
// over fetch (SSE) and WebSocket/long-polling. No inline script or style, no third party.
export const CONTENT_SECURITY_POLICY = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'base-uri': ["'none'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
  'object-src': ["'none'"],
};

type Middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

// helmet's headers on every HTTP response, the API's included. Not helmet's default CSP: it adds
// `upgrade-insecure-requests`, which breaks the page on a plain-http deployment (localhost).
// HSTS only counts over HTTPS (browsers ignore it on http); no includeSubDomains, since this
// service cannot know what else runs under its parent domain. They are the same for every
// response, so helmet is asked once and its headers are set as one list (a dozen middleware
// calls per request otherwise, on the hot path of every stream).
export function securityHeaders(): Middleware {
  const headers = helmetHeaders();
  return (_req, res, next) => {
    res.setHeaders(headers);
    next();
  };
}

function helmetHeaders(): Map<string, string> {
  const headers = new Map<string, string>();
  const recorder = {
    setHeader: (name: string, value: string | number) => void headers.set(name, String(value)),
    removeHeader: () => undefined,
  } as unknown as ServerResponse;
  helmet({
    contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY },
    strictTransportSecurity: { maxAge: 365 * 24 * 3600, includeSubDomains: false },
    referrerPolicy: { policy: 'no-referrer' },
    xFrameOptions: { action: 'deny' },
  })({} as IncomingMessage, recorder, () => undefined);
  return headers;
}

// The Socket.IO server answers its own paths (/socket.io/socket.io.js, the long-polling transport)
// before Express sees them, so the same headers are set there by a listener that runs first.
// Cross-origin apps may load the client script from here (a no-cors request), hence
// Cross-Origin-Resource-Policy: cross-origin on those paths only.
export function securityHeadersForSocketIo(path: string): (req: IncomingMessage, res: ServerResponse) => void {
  const headers = securityHeaders();
  return (req, res) => {
    if (!req.url?.startsWith(`${path}/`)) return;
    headers(req, res, () => undefined);
    res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
  };
}

/** Form protections: same-origin checks, signed form tokens, the client address behind trusted proxies. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { newNonce } from '../mail/tokens';
import type { WebDeps } from './deps';

/**
 * Cross-site posting defence for the subscriber forms, without cookies: the browser's Origin (or
 * Referer) must be ours or a configured embedding site, and a form of ours must carry a signed
 * form token we issued with the page (bound to the subscriber on the preferences form, expiring
 * after a day). The RFC 8058 one-click POST is exempt: its URL token is the authority.
 */

/** Name of the hidden field that carries the signed form token. */
export const FORM_TOKEN_FIELD = 'form_token';
/** The honeypot: a field people never see and bots fill in. */
export const HONEYPOT_FIELD = 'leave_blank';
const FORM_TOKEN_TTL_SECONDS = 24 * 3600;

export type OriginVerdict =
  | { kind: 'same' }
  | { kind: 'allowed'; origin: string }
  | { kind: 'foreign'; origin: string }
  /** No Origin or Referer (old browsers, privacy tools, scripts): the form token decides. */
  | { kind: 'none' };

function originOf(value: string): string | undefined {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : undefined;
  } catch {
    return undefined;
  }
}

export function judgeOrigin(request: FastifyRequest, deps: WebDeps): OriginVerdict {
  const header = request.headers.origin;
  let origin = typeof header === 'string' && header !== 'null' ? originOf(header) : undefined;
  if (!origin && typeof request.headers.referer === 'string') origin = originOf(request.headers.referer);
  if (!origin) return { kind: 'none' };
  const ours = new Set([originOf(deps.config.publicUrl), originOf(`${request.protocol}://${request.host}`)]);
  if (ours.has(origin)) return { kind: 'same' };
  if (deps.config.web.allowedOrigins.includes(origin)) return { kind: 'allowed', origin };
  return { kind: 'foreign', origin };
}

export function issueFormToken(deps: WebDeps, subscriberId = '0'): string {
  const expiresAt = Math.floor(deps.clock.now().getTime() / 1000) + FORM_TOKEN_TTL_SECONDS;
  return deps.signer.sign({ purpose: 'form', subscriberId, expiresAt, nonce: newNonce() });
}

export type FormTokenCheck = 'ok' | 'missing' | 'invalid' | 'expired';

export function checkFormToken(deps: WebDeps, token: unknown, subscriberId = '0'): FormTokenCheck {
  const value = Array.isArray(token) ? token[0] : token;
  if (typeof value !== 'string' || value === '') return 'missing';
  const check = deps.signer.verify(value, 'form', deps.clock.now());
  if (!check.ok) return check.reason === 'expired' && check.claims?.subscriberId === subscriberId ? 'expired' : 'invalid';
  return check.claims.subscriberId === subscriberId ? 'ok' : 'invalid';
}

export type FormPostVerdict = { ok: true; form: string } | { ok: false; reason: 'foreign-origin' | 'missing-token' | 'invalid-token' | 'expired-token'; origin?: string };

/**
 * May this form post be acted on? Our own pages carry a form token; a configured embedding site
 * (`allowEmbedded`) posts the public field names with no token, identified by its Origin.
 */
export function checkFormPost(request: FastifyRequest, deps: WebDeps, options: { form: string; subscriberId?: string; allowEmbedded?: boolean }): FormPostVerdict {
  const origin = judgeOrigin(request, deps);
  if (origin.kind === 'foreign') return { ok: false, reason: 'foreign-origin', origin: origin.origin };
  if (origin.kind === 'allowed') {
    if (options.allowEmbedded) return { ok: true, form: `embedded:${origin.origin}` };
    return { ok: false, reason: 'foreign-origin', origin: origin.origin };
  }
  const body = (request.body ?? {}) as Record<string, unknown>;
  const token = checkFormToken(deps, body[FORM_TOKEN_FIELD], options.subscriberId ?? '0');
  if (token === 'ok') return { ok: true, form: options.form };
  return { ok: false, reason: token === 'missing' ? 'missing-token' : token === 'expired' ? 'expired-token' : 'invalid-token' };
}

/** The client's address as fastify sees it (X-Forwarded-For only from proxies in web.trustProxy). */
export function clientIp(request: FastifyRequest): string {
  return request.ip || request.socket.remoteAddress || 'unknown';
}

export function userAgent(request: FastifyRequest): string | undefined {
  const ua = request.headers['user-agent'];
  return typeof ua === 'string' && ua ? ua.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 300) : undefined;
}

/**
 * Headers for every subscriber page: no caching (pages carry tokens), no framing, no scripts
 * (but the one inline script a page names by its nonce: the time zone suggestion), and Referer
 * kept on this site so a token in the URL never leaks to another one while our own form posts
 * still carry an Origin.
 */
export function applyPageHeaders(reply: FastifyReply, options: { scriptNonce?: string } = {}): FastifyReply {
  const script = options.scriptNonce ? `; script-src 'nonce-${options.scriptNonce}'` : '';
  return reply
    .header('cache-control', 'no-store')
    .header('content-security-policy', `default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'${script}`)
    .header('referrer-policy', 'same-origin')
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY');
}

/** What a reader sees when a page is missing or breaks: the site's own pages, not Fastify's JSON; JSON for the API and webhooks. */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { escapeHtml } from '../render/slots';
import { page } from './page';
import { applyPageHeaders } from './security';
import type { WebDeps } from './deps';

/** Paths machines call: their errors stay JSON. */
const MACHINE_PATH = /^\/(?:api|webhooks)(?:[/?]|$)/;

/** JSON for the API and webhooks, and for a client that asks for JSON and not HTML; a page for everyone else. */
export function wantsJson(request: FastifyRequest): boolean {
  if (MACHINE_PATH.test(request.url)) return true;
  const accept = request.headers.accept ?? '';
  return accept.includes('application/json') && !accept.includes('text/html');
}

/** Where a lost reader can go next. */
function wayOn(website: string, organisation: string): string {
  return `<ul>
<li><a href="/subscribe">Sign up for our newsletters</a></li>
<li><a href="/archive">Read past editions</a></li>
<li><a href="${escapeHtml(website)}">${escapeHtml(organisation)} home page</a></li>
</ul>`;
}

export function notFoundPageHtml(organisation: { name: string; website: string; postalAddress: string }): string {
  return page('Page not found', `<p class="lead">There is nothing at this address. The link may be mistyped or out of date.</p>
${wayOn(organisation.website, organisation.name)}`, organisation.name, { postalAddress: organisation.postalAddress });
}

export function serverErrorPageHtml(organisation: { name: string; website: string; postalAddress: string }, requestId: string): string {
  return page('Something went wrong', `<p class="lead">Sorry: this page could not be shown because of a problem on our side. Please try again in a few minutes.</p>
<p class="muted">If it keeps happening, tell us this reference: <code>${escapeHtml(requestId)}</code>.</p>
${wayOn(organisation.website, organisation.name)}`, organisation.name, { postalAddress: organisation.postalAddress });
}

/** Plain words for the client errors Fastify raises itself (malformed body, too large, wrong type). */
function clientErrorText(status: number): { title: string; message: string } {
  if (status === 413) return { title: 'Too much to send', message: 'What was sent is larger than this page accepts.' };
  if (status === 415) return { title: 'Not accepted here', message: 'This address does not accept that kind of content.' };
  if (status === 429) return { title: 'Too many requests', message: 'Please wait a little and try again.' };
  return { title: 'That request was not understood', message: 'Something in it was malformed. Please go back and try again.' };
}

/** `not-found`, `payload-too-large`, ... from an HTTP status, for the API's `{ error, message }`. */
function errorCode(status: number): string {
  const codes: Record<number, string> = { 400: 'bad-request', 404: 'not-found', 405: 'method-not-allowed', 413: 'payload-too-large', 415: 'unsupported-media-type', 429: 'rate-limited' };
  return codes[status] ?? (status >= 500 ? 'internal' : 'bad-request');
}

/**
 * Installs the 404 and error handlers on the root (before any route, so every plugin inherits
 * them). A 5xx is logged at error with the request id, the route pattern (never the raw URL,
 * which may hold a reader's token) and the error; the reader sees the id as a reference.
 */
export function registerErrorPages(app: FastifyInstance, deps: WebDeps): void {
  const org = deps.config.organisation;

  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    if (wantsJson(request)) {
      return reply.code(404).header('cache-control', 'no-store').send({ error: 'not-found', message: `Nothing at ${request.method} ${request.url.split('?')[0]}.` });
    }
    return applyPageHeaders(reply).code(404).type('text/html; charset=utf-8').send(notFoundPageHtml(org));
  });

  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const given = error.statusCode ?? 500;
    const status = given >= 400 && given <= 599 ? given : 500;
    const where = { method: request.method, route: request.routeOptions.url ?? '(no route)' };
    if (status >= 500) request.log.error({ err: error, ...where, statusCode: status }, 'request failed');
    else request.log.debug({ err: error, ...where, statusCode: status }, 'request refused');
    if (wantsJson(request)) {
      const body = status >= 500
        ? { error: 'internal', message: 'Something went wrong on our side; try again later.', requestId: request.id }
        : { error: errorCode(status), message: error.message };
      return reply.code(status).header('cache-control', 'no-store').send(body);
    }
    if (status >= 500) return applyPageHeaders(reply).code(status).type('text/html; charset=utf-8').send(serverErrorPageHtml(org, request.id));
    const text = clientErrorText(status);
    return applyPageHeaders(reply)
      .code(status)
      .type('text/html; charset=utf-8')
      .send(page(text.title, `<p class="lead">${escapeHtml(text.message)}</p>\n${wayOn(org.website, org.name)}`, org.name, { postalAddress: org.postalAddress }));
  });
}

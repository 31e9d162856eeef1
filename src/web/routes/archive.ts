/** The public archive: past editions as web pages, with no personal data. */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { editionIdFor, type Edition, type EditionState } from '../../delivery/edition';
import { personalLinksHelpUrl } from '../../ops/test-send';
import { escapeHtml, fillSlots, neutralSlotValues } from '../../render/slots';
import { webCopyHtml } from '../../render/web-copy';
import { page } from '../page';
import type { WebDeps } from '../deps';

/** Editions readers may have in their inbox: from the first send on, whatever happened later, but not one ops cancelled. */
const publishedStates: ReadonlySet<EditionState> = new Set(['sending', 'paused', 'done']);

const newsletterParam = z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/);
const dateParam = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);
const listQuery = z.object({ newsletter: newsletterParam.optional() });

/**
 * Every copy of an edition in the archive is the same: the HTML stored at build time (slot
 * markers, never a reader's data) without its email-only parts (see render/web-copy.ts), with
 * neutral values in what slots remain. In editions stored before those parts were marked, the
 * "Unsubscribe" and "Manage your preferences" links point to a page explaining that the web copy
 * is not personal.
 * A strict CSP keeps the newsletter's HTML from running anything in the site's origin.
 */
export function registerArchiveRoutes(app: FastifyInstance, deps: WebDeps): void {
  const org = deps.config.organisation;
  const help = personalLinksHelpUrl(deps.config.publicUrl);
  const notFound = (reply: FastifyReply, message: string) =>
    reply.code(404).type('text/html; charset=utf-8').send(page('Edition not found', `<p>${escapeHtml(message)}</p><p><a href="/archive">All past editions</a></p>`, org.name, { postalAddress: org.postalAddress }));

  const listPage = async (reply: FastifyReply, newsletterId: string | undefined) => {
    const newsletters = deps.config.newsletters.filter((n) => (newsletterId ? n.id === newsletterId : n.public));
    if (newsletterId && newsletters.length === 0) return notFound(reply, `There is no newsletter "${newsletterId}".`);
    const sections: string[] = [];
    for (const n of newsletters) {
      const editions = (await deps.editions.list(n.id, 90)).filter((e) => publishedStates.has(e.state));
      const items = editions.map((e: Edition) => `<li><a href="/archive/${encodeURIComponent(n.id)}/${e.localDate}">${escapeHtml(e.localDate)}</a>${e.subject ? ` · ${escapeHtml(e.subject)}` : ''}</li>`);
      sections.push(`<h2>${escapeHtml(n.name)}</h2>${items.length ? `<ul>${items.join('')}</ul>` : '<p class="muted">No editions yet.</p>'}`);
    }
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'public, max-age=300')
      .send(page(newsletterId ? `${newsletters[0]?.name} archive` : 'Past editions', `<p class="lead">Every morning's newsletter, as it was sent.</p>${sections.join('\n')}`, org.name, { postalAddress: org.postalAddress }));
  };

  app.get('/archive', async (request, reply) => {
    const query = listQuery.safeParse(request.query);
    return listPage(reply, query.success ? query.data.newsletter : undefined);
  });

  app.get('/archive/personal-links', async (_request, reply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'public, max-age=86400').send(page('Use the link in your email', `<p>This web copy of the newsletter is the same for every reader, so its links cannot unsubscribe you or change your settings.</p>
<p>To unsubscribe or manage which newsletters you get, use the <strong>Unsubscribe</strong> or <strong>Manage your preferences</strong> link at the foot of the email you received: each one is personal to you. Or simply reply to that email and we will do it for you.</p>
<p><a href="/archive">All past editions</a></p>`, org.name, { postalAddress: org.postalAddress })));

  app.get<{ Params: { newsletter: string } }>('/archive/:newsletter', async (request, reply) => {
    const newsletter = newsletterParam.safeParse(request.params.newsletter);
    if (!newsletter.success) return notFound(reply, 'That is not a newsletter name.');
    return listPage(reply, newsletter.data);
  });

  app.get<{ Params: { newsletter: string; date: string } }>('/archive/:newsletter/:date', async (request, reply) => {
    const newsletter = newsletterParam.safeParse(request.params.newsletter);
    const date = dateParam.safeParse(request.params.date);
    if (!newsletter.success || !date.success) return notFound(reply, 'That address does not name an edition: it should look like /archive/national/2026-11-24.');
    const id = editionIdFor(newsletter.data, date.data);
    const edition = await deps.editions.get(id);
    if (!edition || !publishedStates.has(edition.state)) return notFound(reply, `There is no ${newsletter.data} edition for ${date.data}.`);
    const content = await deps.editions.content(id);
    if (!content) return notFound(reply, `The ${newsletter.data} edition for ${date.data} is not available.`);
    // The web copy drops the email-only parts (view in browser, subscriber footer); editions stored
    // before those were marked still carry them, with neutral values.
    const html = fillSlots(webCopyHtml(content.html), neutralSlotValues({ unsubscribeUrl: help, preferencesUrl: help }), escapeHtml);
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', edition.state === 'done' ? 'public, max-age=3600' : 'public, max-age=60')
      .header('content-security-policy', "default-src 'none'; img-src 'self' https: http: data:; style-src 'unsafe-inline'; font-src https: data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .send(html);
  });
}

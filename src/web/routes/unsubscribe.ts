/** Unsubscribe: the one-button page and the RFC 8058 one-click POST. */
import type { FastifyInstance } from 'fastify';
import { preferencesUrl } from '../../mail/personalise';
import type { PageKit } from '../kit';
import { invalidLinkView, noSubscriptionView, unsubscribedView, unsubscribeView } from '../views/subscriptions';

/**
 * RFC 8058 one-click unsubscribe: a bare POST with `List-Unsubscribe=One-Click`, no cookie, no
 * login, no form token (the signed URL token is the authority), effective at once: send jobs
 * re-check the reader's status right before SMTP, so a copy already queued is not sent. GET shows
 * a page with one button, because mail scanners follow GET links and must not unsubscribe anyone.
 *
 * A link from an edition names it (`?e=<edition>.<sig>`, signed for the reader), so the
 * unsubscribe is counted against that edition in its report; the page's button keeps it.
 *
 * The POST is not counted against per-IP page limits: mail providers send these from a few
 * addresses for very many readers. Only requests with a bad token are counted.
 */
export function registerUnsubscribeRoutes(app: FastifyInstance, kit: PageKit): void {
  const { deps } = kit;
  const prefs = (id: string) => preferencesUrl(deps.config.publicUrl, deps.signer, id);
  /** The edition a link in an edition names (`?e=`, signed for this reader), kept through the page's form. */
  const editionOf = (query: { e?: unknown }, subscriberId: string) => deps.signer.editionLinks.verifyEditionRef(query.e, subscriberId);

  app.get<{ Params: { token: string }; Querystring: { e?: unknown } }>('/unsubscribe/:token', async (request, reply) => {
    if (!(await kit.allowPage(request, reply))) return reply;
    const check = deps.signer.verify(request.params.token, 'unsubscribe', deps.clock.now());
    if (!check.ok) return kit.badToken(request, reply, invalidLinkView('unsubscribe'));
    const subscriber = await deps.subscribers.get(check.claims.subscriberId);
    if (!subscriber) return kit.render(reply, noSubscriptionView(), 404);
    const editionId = editionOf(request.query, subscriber.id);
    return kit.render(reply, unsubscribeView({
      email: subscriber.email,
      action: `/unsubscribe/${encodeURIComponent(request.params.token)}${editionId ? `?e=${encodeURIComponent(String(request.query.e))}` : ''}`,
      preferencesUrl: prefs(subscriber.id),
      already: subscriber.status === 'unsubscribed',
    }));
  });

  app.register(async (scope) => {
    // Mail clients may send the one-click body as multipart/form-data or with no usable type; the
    // token in the URL is what counts, so any body is read as text and ignored.
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 16 * 1024 }, (_request, body, done) => done(null, body));
    scope.post<{ Params: { token: string }; Querystring: { e?: unknown } }>('/unsubscribe/:token', async (request, reply) => {
      const check = deps.signer.verify(request.params.token, 'unsubscribe', deps.clock.now());
      if (!check.ok) return kit.badToken(request, reply, invalidLinkView('unsubscribe'));
      const subscriber = await deps.subscribers.get(check.claims.subscriberId);
      if (!subscriber) return kit.render(reply, unsubscribedView({}));
      if (subscriber.status !== 'unsubscribed') {
        await deps.subscribers.unsubscribe(subscriber.id, { reason: 'one-click', form: 'unsubscribe-link', now: deps.clock.now() });
        // Attributed to the edition whose link it was, each reader once (the edition's report).
        const editionId = editionOf(request.query, subscriber.id);
        if (editionId) await deps.editions.countUnsubscribe(editionId, subscriber.id);
        deps.logger.info({ subscriberId: subscriber.id, editionId }, 'unsubscribed by one-click link');
      }
      return kit.render(reply, unsubscribedView({ preferencesUrl: prefs(subscriber.id) }));
    });
  });
}

import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../../delivery/runtime';
import { escapeHtml } from '../../render/slots';
import { page } from '../page';

/**
 * RFC 8058 one-click unsubscribe: a bare POST with `List-Unsubscribe=One-Click`, no cookie, no
 * login, effective at once (send jobs re-check the reader's status right before SMTP). GET shows
 * a page with one button, because mail scanners follow GET links and must not unsubscribe anyone.
 */
export function registerUnsubscribeRoutes(app: FastifyInstance, runtime: Runtime): void {
  const org = runtime.config.organisation.name;

  app.get<{ Params: { token: string } }>('/unsubscribe/:token', async (request, reply) => {
    const check = runtime.signer.verify(request.params.token, 'unsubscribe', runtime.clock.now());
    if (!check.ok) return reply.code(400).type('text/html').send(page('Link not recognised', '<p>This unsubscribe link is not valid. Use the link in your latest email, or reply to it and we will take you off the list.</p>', org));
    const action = `/unsubscribe/${encodeURIComponent(request.params.token)}`;
    return reply.type('text/html').send(page('Unsubscribe', `<p>Stop receiving all of our newsletters at this address?</p>
<form method="post" action="${escapeHtml(action)}"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>`, org));
  });

  app.post<{ Params: { token: string }; Body: unknown }>('/unsubscribe/:token', async (request, reply) => {
    const check = runtime.signer.verify(request.params.token, 'unsubscribe', runtime.clock.now());
    if (!check.ok) return reply.code(400).type('text/html').send(page('Link not recognised', '<p>This unsubscribe link is not valid.</p>', org));
    const subscriber = await runtime.subscribers.get(check.claims.subscriberId);
    if (subscriber && subscriber.status !== 'unsubscribed') {
      await runtime.subscribers.unsubscribe(subscriber.id, { reason: 'one-click', now: runtime.clock.now() });
    }
    return reply.code(200).type('text/html').send(page('You are unsubscribed', '<p>You will get no more newsletters from us at this address. Changed your mind? You can sign up again at any time.</p>', org));
  });
}

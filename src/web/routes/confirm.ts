/** The confirm link of double opt-in: confirm, or offer a new link when it expired. */
import type { FastifyInstance } from 'fastify';
import { preferencesUrl } from '../../mail/personalise';
import { sendConfirmation } from '../../subscribers/signup';
import { settleWelcomes, startWelcome } from '../../subscribers/welcome';
import type { PageKit } from '../kit';
import { ipSubject } from '../rate-limit';
import { checkFormPost, clientIp, issueFormToken, userAgent } from '../security';
import { confirmedView, confirmExpiredView, confirmUsedView, forbiddenView, invalidLinkView, newLinkSentView, signupGoneView, suppressedView } from '../views/subscriptions';

/**
 * GET /confirm/:token confirms a sign-up (double opt-in, step two). The token carries the pending
 * sign-up's nonce, which confirming consumes: a link works once. An expired link (7 days) offers a
 * new one (POST /confirm/:token/resend), which needs the token's signature but not its freshness.
 */
export function registerConfirmRoutes(app: FastifyInstance, kit: PageKit): void {
  const { deps } = kit;
  const prefs = (id: string) => preferencesUrl(deps.config.publicUrl, deps.signer, id);
  // Welcomes still being sent are finished before the server (and its Redis) goes.
  app.addHook('onClose', () => settleWelcomes(deps));

  app.get<{ Params: { token: string } }>('/confirm/:token', async (request, reply) => {
    if (!(await kit.allowPage(request, reply))) return reply;
    const token = request.params.token;
    const check = deps.signer.verify(token, 'confirm', deps.clock.now());
    if (!check.ok) {
      if (check.reason === 'expired' && check.claims?.nonce) {
        return kit.render(reply, confirmExpiredView({ action: `/confirm/${encodeURIComponent(token)}/resend`, formToken: issueFormToken(deps, check.claims.subscriberId) }), 410);
      }
      return kit.badToken(request, reply, invalidLinkView('confirm'));
    }
    const { subscriberId, nonce } = check.claims;
    if (!nonce) return kit.badToken(request, reply, invalidLinkView('confirm'));
    const result = await deps.subscribers.confirmSignup(subscriberId, nonce, { ip: clientIp(request), userAgent: userAgent(request), now: deps.clock.now() });
    switch (result.outcome) {
      case 'confirmed': {
        const names = deps.config.newsletters.filter((n) => result.subscriber.newsletters.includes(n.id)).map((n) => n.name);
        deps.logger.info({ subscriberId, kind: result.kind, added: result.added }, 'subscription confirmed');
        // The welcome, after the page has answered; owed since the confirmation, so never lost nor doubled.
        startWelcome(deps, subscriberId);
        return kit.render(reply, confirmedView({ names, preferencesUrl: prefs(subscriberId), kind: result.kind }));
      }
      case 'suppressed':
        return kit.render(reply, suppressedView(), 409);
      case 'used':
        // Followed again: a welcome the first visit could not send goes now (one owed is sent once).
        if (result.subscriber?.status === 'confirmed') startWelcome(deps, subscriberId);
        return kit.render(reply, confirmUsedView({ preferencesUrl: result.subscriber?.status === 'confirmed' ? prefs(subscriberId) : undefined }));
    }
  });

  app.post<{ Params: { token: string }; Body: Record<string, unknown> | undefined }>('/confirm/:token/resend', async (request, reply) => {
    if (!(await kit.allowPage(request, reply))) return reply;
    const check = deps.signer.verify(request.params.token, 'confirm', deps.clock.now());
    const claims = check.ok || check.reason === 'expired' ? check.claims : undefined;
    if (!claims?.nonce) return kit.badToken(request, reply, invalidLinkView('confirm'));
    const verdict = checkFormPost(request, deps, { form: 'resend', subscriberId: claims.subscriberId });
    if (!verdict.ok) {
      if (verdict.reason === 'expired-token') {
        return kit.render(reply, confirmExpiredView({ action: `/confirm/${encodeURIComponent(request.params.token)}/resend`, formToken: issueFormToken(deps, claims.subscriberId) }), 410);
      }
      return kit.render(reply, forbiddenView(verdict.reason), 403);
    }
    if (!(await kit.allow(request, reply, 'signup-ip', ipSubject(clientIp(request)), deps.config.web.rateLimits.signupPerIp, 'ip'))) return reply;
    const subscriber = await deps.subscribers.get(claims.subscriberId);
    const signup = subscriber ? await deps.subscribers.pendingSignup(subscriber.id) : undefined;
    if (!subscriber || !signup || signup.nonce !== claims.nonce) {
      return kit.render(reply, subscriber?.status === 'confirmed' && !signup ? confirmUsedView({ preferencesUrl: prefs(subscriber.id) }) : signupGoneView(), 410);
    }
    if (await deps.subscribers.isSuppressed(subscriber.email)) return kit.render(reply, suppressedView(), 409);
    if (!(await kit.allow(request, reply, 'signup-email', subscriber.emailHash, deps.config.web.rateLimits.signupPerEmail, 'email'))) return reply;
    await sendConfirmation(deps, subscriber, signup);
    return kit.render(reply, newLinkSentView());
  });
}

/** The preferences page: a reader's newsletters and name, through the signed link in their email. */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { NewsletterConfig } from '../../config/schema';
import { preferencesUrl } from '../../mail/personalise';
import { subscriberNameSchema } from '../../subscribers/email';
import { SubscriberError, type Subscriber } from '../../subscribers/store';
import type { PageKit } from '../kit';
import { checkFormPost, clientIp, issueFormToken, userAgent } from '../security';
import { forbiddenView, invalidLinkView, noSubscriptionView, preferencesView, unsubscribedView } from '../views/subscriptions';

type Body = Record<string, unknown> | undefined;

/**
 * GET|POST /preferences/:token: choose newsletters, change the name, or unsubscribe from all.
 * The link from the reader's email authorises it; the form also carries a form token bound to
 * that reader and must come from this site.
 */
export function registerPreferencesRoutes(app: FastifyInstance, kit: PageKit): void {
  const { deps } = kit;

  /** The public newsletters, plus any ops-only one this reader is on (so saving never drops it unseen). */
  const offered = (sub: Subscriber): NewsletterConfig[] => deps.config.newsletters.filter((n) => n.public || sub.newsletters.includes(n.id));

  const show = async (reply: FastifyReply, sub: Subscriber, token: string, extra: { name?: string; chosen?: string[]; errors?: { name?: string; newsletters?: string; form?: string }; notice?: string; status?: number } = {}) =>
    kit.render(reply, preferencesView({
      email: sub.email,
      name: extra.name ?? sub.name ?? '',
      status: sub.status,
      newsletters: offered(sub),
      chosen: extra.chosen ?? (sub.status === 'unsubscribed' ? [] : sub.newsletters),
      action: `/preferences/${encodeURIComponent(token)}`,
      formToken: issueFormToken(deps, sub.id),
      errors: extra.errors,
      notice: extra.notice,
      suppressed: await deps.subscribers.isSuppressed(sub.email),
    }), extra.status ?? 200);

  app.get<{ Params: { token: string } }>('/preferences/:token', async (request, reply) => {
    if (!(await kit.allowPage(request, reply))) return reply;
    const check = deps.signer.verify(request.params.token, 'preferences', deps.clock.now());
    if (!check.ok) return kit.badToken(request, reply, invalidLinkView('preferences'));
    const sub = await deps.subscribers.get(check.claims.subscriberId);
    if (!sub) return kit.render(reply, noSubscriptionView(), 404);
    return show(reply, sub, request.params.token);
  });

  app.post<{ Params: { token: string }; Body: Body }>('/preferences/:token', async (request, reply) => {
    if (!(await kit.allowPage(request, reply))) return reply;
    const token = request.params.token;
    const check = deps.signer.verify(token, 'preferences', deps.clock.now());
    if (!check.ok) return kit.badToken(request, reply, invalidLinkView('preferences'));
    const sub = await deps.subscribers.get(check.claims.subscriberId);
    if (!sub) return kit.render(reply, noSubscriptionView(), 404);
    const body = request.body ?? {};
    const rawName = Array.isArray(body.name) ? body.name[0] : body.name;
    const typedName = typeof rawName === 'string' ? rawName.slice(0, 200) : '';
    const rawList = body.newsletters === undefined ? [] : Array.isArray(body.newsletters) ? body.newsletters : [body.newsletters];
    const typedList = rawList.filter((v): v is string => typeof v === 'string').slice(0, 50);

    const verdict = checkFormPost(request, deps, { form: 'preferences', subscriberId: sub.id });
    if (!verdict.ok) {
      if (verdict.reason === 'expired-token') {
        return show(reply, sub, token, { name: typedName, chosen: typedList, errors: { form: 'This page was open for a long time, so we could not save it. Check your choices and save again.' }, status: 400 });
      }
      return kit.render(reply, forbiddenView(verdict.reason), 403);
    }
    const context = { form: 'preferences', consentText: deps.config.web.consentText, ip: clientIp(request), userAgent: userAgent(request) };

    if (body.action === 'unsubscribe') {
      if (sub.status !== 'unsubscribed') await deps.subscribers.unsubscribe(sub.id, { reason: 'preferences: unsubscribe from all', form: 'preferences', now: deps.clock.now() });
      return kit.render(reply, unsubscribedView({ preferencesUrl: preferencesUrl(deps.config.publicUrl, deps.signer, sub.id) }));
    }

    const errors: { name?: string; newsletters?: string } = {};
    let name = '';
    if (typedName.trim() !== '') {
      const parsed = subscriberNameSchema.safeParse(typedName);
      if (!parsed.success) errors.name = /too long/.test(parsed.error.issues[0]?.message ?? '') ? 'Your first name must be 100 characters or fewer' : 'Your first name can only contain letters, spaces and ordinary punctuation';
      else name = parsed.data;
    }
    const ids = new Set(offered(sub).map((n) => n.id));
    if (typedList.some((id) => !ids.has(id))) errors.newsletters = 'Choose from the newsletters listed';
    if (Object.keys(errors).length) return show(reply, sub, token, { name: typedName, chosen: typedList, errors, status: 400 });

    try {
      const { subscriber, added, removed } = await deps.subscribers.updatePreferences(sub.id, { name, newsletters: [...new Set(typedList)], now: deps.clock.now(), context });
      if (subscriber.status === 'unsubscribed') {
        return kit.render(reply, unsubscribedView({ preferencesUrl: preferencesUrl(deps.config.publicUrl, deps.signer, sub.id) }));
      }
      deps.logger.info({ subscriberId: sub.id, added, removed }, 'preferences saved');
      return show(reply, subscriber, token, { notice: 'Saved. Your choices apply from the next edition.' });
    } catch (error) {
      if (error instanceof SubscriberError && error.reason === 'suppressed') {
        return show(reply, sub, token, { name: typedName, chosen: typedList, errors: { newsletters: 'Email to this address is blocked on our side, so we cannot add newsletters. Reply to any of our emails and we will look into it.' }, status: 409 });
      }
      throw error;
    }
  });
}

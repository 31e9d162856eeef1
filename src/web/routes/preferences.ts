/** The preferences page: a reader's newsletters and name, through the signed link in their email. */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { NewsletterConfig } from '../../config/schema';
import { preferencesUrl } from '../../mail/personalise';
import { subscriberNameSchema } from '../../subscribers/email';
import { parseTimeZoneField } from '../../subscribers/signup';
import { newNonce } from '../../mail/tokens';
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

  const asksZone = (sub: Subscriber) => offered(sub).some((n) => n.delivery === 'reader-zone');
  const show = async (reply: FastifyReply, sub: Subscriber, token: string, extra: { name?: string; chosen?: string[]; timezone?: string; errors?: { name?: string; newsletters?: string; timezone?: string; form?: string }; notice?: string; status?: number } = {}) =>
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
      timeZone: asksZone(sub) ? { selected: extra.timezone ?? sub.timezone ?? '', scriptNonce: newNonce() } : undefined,
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
    const rawZone = Array.isArray(body.timezone) ? body.timezone[0] : body.timezone;
    const typedZone = typeof rawZone === 'string' ? rawZone.slice(0, 64) : '';

    const verdict = checkFormPost(request, deps, { form: 'preferences', subscriberId: sub.id });
    if (!verdict.ok) {
      if (verdict.reason === 'expired-token') {
        return show(reply, sub, token, { name: typedName, chosen: typedList, timezone: typedZone, errors: { form: 'This page was open for a long time, so we could not save it. Check your choices and save again.' }, status: 400 });
      }
      return kit.render(reply, forbiddenView(verdict.reason), 403);
    }
    const context = { form: 'preferences', consentText: deps.config.web.consentText, ip: clientIp(request), userAgent: userAgent(request) };

    if (body.action === 'unsubscribe') {
      if (sub.status !== 'unsubscribed') await deps.subscribers.unsubscribe(sub.id, { reason: 'preferences: unsubscribe from all', form: 'preferences', now: deps.clock.now() });
      return kit.render(reply, unsubscribedView({ preferencesUrl: preferencesUrl(deps.config.publicUrl, deps.signer, sub.id) }));
    }

    const errors: { name?: string; newsletters?: string; timezone?: string } = {};
    let name = '';
    if (typedName.trim() !== '') {
      const parsed = subscriberNameSchema.safeParse(typedName);
      if (!parsed.success) errors.name = /too long/.test(parsed.error.issues[0]?.message ?? '') ? 'Your first name must be 100 characters or fewer' : 'Your first name can only contain letters, spaces and ordinary punctuation';
      else name = parsed.data;
    }
    const ids = new Set(offered(sub).map((n) => n.id));
    if (typedList.some((id) => !ids.has(id))) errors.newsletters = 'Choose from the newsletters listed';
    // Only asked when a newsletter offered is sent in readers' zones; absent from the form, it is left as it is.
    const timezone = asksZone(sub) && body.timezone !== undefined ? parseTimeZoneField(body.timezone) : sub.timezone ?? '';
    if (timezone === undefined) errors.timezone = 'Choose your time zone from the list, or leave it as the newsletter\'s';
    if (Object.keys(errors).length) return show(reply, sub, token, { name: typedName, chosen: typedList, timezone: typedZone, errors, status: 400 });

    try {
      const { subscriber, added, removed } = await deps.subscribers.updatePreferences(sub.id, { name, timezone, newsletters: [...new Set(typedList)], now: deps.clock.now(), context });
      if (subscriber.status === 'unsubscribed') {
        return kit.render(reply, unsubscribedView({ preferencesUrl: preferencesUrl(deps.config.publicUrl, deps.signer, sub.id) }));
      }
      deps.logger.info({ subscriberId: sub.id, added, removed }, 'preferences saved');
      return show(reply, subscriber, token, { notice: 'Saved. Your choices apply from the next edition.' });
    } catch (error) {
      if (error instanceof SubscriberError && error.reason === 'suppressed') {
        return show(reply, sub, token, { name: typedName, chosen: typedList, timezone: typedZone, errors: { newsletters: 'Email to this address is blocked on our side, so we cannot add newsletters. Reply to any of our emails and we will look into it.' }, status: 409 });
      }
      throw error;
    }
  });
}

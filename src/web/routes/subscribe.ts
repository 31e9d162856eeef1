/** The sign-up form and API: validate, answer at once, and do the work in the background. */
import cors from '@fastify/cors';
import type { NewsletterConfig } from '../../config/schema';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseSignup, publicNewsletters, settleSignups, startSignup, type SignupFieldErrors } from '../../subscribers/signup';
import { newNonce } from '../../mail/tokens';
import type { PageKit } from '../kit';
import { ipSubject } from '../rate-limit';
import { checkFormPost, clientIp, HONEYPOT_FIELD, issueFormToken, judgeOrigin, userAgent } from '../security';
import { checkInboxView, forbiddenView, signupView, type SignupFormValues } from '../views/subscriptions';

type Body = Record<string, unknown> | undefined;

/** What the visitor typed, made safe to show again (escaped later): strings only, bounded. */
function typedValues(body: Body, fallbackNewsletters: string[]): SignupFormValues {
  const first = (v: unknown) => (typeof (Array.isArray(v) ? v[0] : v) === 'string' ? String(Array.isArray(v) ? v[0] : v) : '');
  const list = body?.newsletters === undefined ? fallbackNewsletters : (Array.isArray(body.newsletters) ? body.newsletters : [body.newsletters]).filter((v): v is string => typeof v === 'string').slice(0, 50);
  return { email: first(body?.email).slice(0, 320), name: first(body?.name).slice(0, 200), newsletters: list, timezone: first(body?.timezone).slice(0, 64) };
}

function honeypotFilled(body: Body): boolean {
  const v = body?.[HONEYPOT_FIELD];
  return (typeof v === 'string' && v.trim() !== '') || Array.isArray(v);
}

/**
 * The sign-up form (GET / and /subscribe, POST /subscribe) and its JSON twin for other sites
 * (POST /api/subscribers, CORS limited to web.allowedOrigins). Every outcome of a valid request
 * gets the same answer, given before the address is looked up (startSignup), so neither the
 * response nor its timing tells whether an address was known, suppressed or erased.
 */
/**
 * The consent text shown and stored: the configured one, plus, when a newsletter on offer keeps
 * per-reader click records (its opt-in, off by default), a sentence saying so and naming it.
 */
export function consentTextFor(base: string, newsletters: readonly NewsletterConfig[]): string {
  const tracked = newsletters.filter((n) => n.clicks.redirect && n.clicks.perReader).map((n) => n.name);
  if (tracked.length === 0) return base;
  const names = tracked.length === 1 ? tracked[0] : `${tracked.slice(0, -1).join(', ')} and ${tracked[tracked.length - 1]}`;
  return `${base} For ${names}, we also record which stories you click, linked to your address, to learn what readers find useful; only newsletters that say so here do this.`;
}

/** Of the newsletters chosen, those whose per-reader click records the consent text covered. */
function clickRecordsOf(chosen: readonly string[], newsletters: readonly NewsletterConfig[]): string[] | undefined {
  const ids = newsletters.filter((n) => chosen.includes(n.id) && n.clicks.redirect && n.clicks.perReader).map((n) => n.id);
  return ids.length ? ids : undefined;
}

export function registerSubscribeRoutes(app: FastifyInstance, kit: PageKit): void {
  const { deps } = kit;
  const web = deps.config.web;
  const allowed = publicNewsletters(deps);
  const defaults = allowed.filter((n) => n.defaultChecked).map((n) => n.id);
  const consentText = consentTextFor(web.consentText, allowed);
  // Sign-ups answered but still finishing are finished before the server (and its Redis) goes.
  app.addHook('onClose', () => settleSignups(deps));

  // Asked only when some newsletter on offer is sent at its morning time in each reader's zone.
  const asksZone = allowed.some((n) => n.delivery === 'reader-zone');
  const showForm = (reply: FastifyReply, values: SignupFormValues, errors?: SignupFieldErrors, status = 200, notice?: string) =>
    kit.render(reply, signupView({ organisation: deps.config.organisation.name, newsletters: allowed, values, errors, formToken: issueFormToken(deps), consentText, notice, timeZones: asksZone ? { scriptNonce: newNonce() } : undefined }), status);

  const formPage = async (request: FastifyRequest, reply: FastifyReply) => {
    if (!(await kit.allowPage(request, reply))) return reply;
    return showForm(reply, { email: '', name: '', newsletters: defaults });
  };
  app.get('/', formPage);
  app.get('/subscribe', formPage);

  app.post<{ Body: Body }>('/subscribe', async (request, reply) => {
    if (!(await kit.allow(request, reply, 'signup-ip', ipSubject(clientIp(request)), web.rateLimits.signupPerIp, 'ip'))) return reply;
    const body = request.body;
    const values = typedValues(body, []);
    const verdict = checkFormPost(request, deps, { form: 'signup-page', allowEmbedded: true });
    if (!verdict.ok) {
      if (verdict.reason === 'expired-token') {
        return showForm(reply, values, { form: 'This page was open for a long time, so we could not accept it. Check your details and press "Sign up for free" again.' }, 400);
      }
      deps.logger.warn({ reason: verdict.reason, origin: verdict.origin, ip: clientIp(request) }, 'sign-up form refused');
      return kit.render(reply, forbiddenView(verdict.reason), 403);
    }
    if (honeypotFilled(body)) {
      // Answer as for a person, so the bot learns nothing; store and send nothing.
      deps.logger.info({ ip: clientIp(request) }, 'sign-up honeypot filled: ignored');
      return kit.render(reply, checkInboxView(values.email));
    }
    const parsed = parseSignup(body, allowed);
    if (!parsed.ok) return showForm(reply, values, parsed.errors, 400);
    const input = parsed.input;
    if (!(await kit.allow(request, reply, 'signup-email', deps.subscribers.hashOf(input.email), web.rateLimits.signupPerEmail, 'email'))) return reply;
    // Answered before the address is looked at; the sign-up finishes in the background.
    if (!startSignup(deps, input, { form: verdict.form, consentText, ip: clientIp(request), userAgent: userAgent(request), clickRecords: clickRecordsOf(input.newsletters, allowed) })) {
      deps.logger.warn('sign-up refused: too many still being finished');
      return showForm(reply, values, { form: 'We are very busy just now and could not take your sign-up. Please try again in a few minutes.' }, 503);
    }
    return kit.render(reply, checkInboxView(input.email));
  });

  // JSON API for other sites. CORS lives in its own scope, so no other route answers cross-origin.
  app.register(async (api) => {
    await api.register(cors, { origin: web.allowedOrigins, methods: ['POST'], allowedHeaders: ['content-type'], maxAge: 600 });
    api.post<{ Body: Body }>('/', async (request, reply) => {
      reply.header('cache-control', 'no-store');
      const ip = await kit.limiter.hit('signup-ip', ipSubject(clientIp(request)), web.rateLimits.signupPerIp);
      if (!ip.allowed) return reply.code(429).header('retry-after', String(ip.retryAfterSeconds)).send({ error: 'rate-limited', message: 'Too many sign-ups from this network; try again later.', retryAfterSeconds: ip.retryAfterSeconds });
      const origin = judgeOrigin(request, deps);
      if (origin.kind === 'foreign') return reply.code(403).send({ error: 'origin-not-allowed', message: `${origin.origin} may not sign people up here; ask us to add it to web.allowedOrigins.` });
      const form = origin.kind === 'allowed' ? `api:${origin.origin}` : 'api';
      const body = request.body;
      const accepted = { status: 'pending', message: 'Check your inbox: we have sent a link to confirm the subscription.' };
      if (honeypotFilled(body)) return reply.code(202).send(accepted);
      const parsed = parseSignup(body, allowed);
      if (!parsed.ok) return reply.code(400).send({ error: 'invalid', message: 'Some fields need attention.', fields: parsed.errors });
      const perEmail = await kit.limiter.hit('signup-email', deps.subscribers.hashOf(parsed.input.email), web.rateLimits.signupPerEmail);
      if (!perEmail.allowed) return reply.code(429).header('retry-after', String(perEmail.retryAfterSeconds)).send({ error: 'rate-limited', message: 'Several confirmation emails were sent to this address recently; check the inbox.', retryAfterSeconds: perEmail.retryAfterSeconds });
      if (!startSignup(deps, parsed.input, { form, consentText, ip: clientIp(request), userAgent: userAgent(request), clickRecords: clickRecordsOf(parsed.input.newsletters, allowed) })) {
        deps.logger.warn('sign-up refused: too many still being finished');
        return reply.code(503).send({ error: 'unavailable', message: 'Too busy to take sign-ups just now; try again in a few minutes.' });
      }
      return reply.code(202).send(accepted);
    });
  }, { prefix: '/api/subscribers' });
}

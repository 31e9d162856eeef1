/** One interface for every ESP webhook (verify, then parse), and the configured providers behind one route. */
import type { z } from 'zod';
import type { WebhooksConfig } from '../../config/bounces-schema';
import type { Logger } from '../../core/logger';
import type { BounceStore } from '../bounce-store';
import { mailgunBodySchema, mailgunEvents, verifyMailgun, type MailgunBody } from './mailgun';
import { checkBasicAuth, checkPostmarkAge, postmarkBodySchema, postmarkEvents, type PostmarkBody } from './postmark';
import type { ProviderEvent } from './provider-event';
import { sendgridBodySchema, sendgridEvents, sendgridPublicKey, sendgridSignatureHeader, sendgridTimestampHeader, verifySendgrid } from './sendgrid';
import { sesBodySchema, sesEvents, type SesBody } from './ses';
import { HttpsSnsCertificates, HttpsSnsConfirmer, isSnsUrl, snsMessageSchema, verifySnsMessage, type SnsCertificateSource, type SnsSubscriptionConfirmer } from './sns';

/** What a provider sees of a request: the exact bytes (signatures cover them) and the headers. */
export interface WebhookRequest {
  rawBody: Buffer;
  header(name: string): string | undefined;
}

/**
 * A request is authentic, well formed and fresh (its payload), or refused (401 forged or stale,
 * 400 malformed, 503 when a check could not be made just now and the sender should retry), or a
 * control message the provider answered itself (an SNS subscription confirmation).
 */
export type WebhookVerdict<P> =
  | { outcome: 'verified'; payload: P }
  | { outcome: 'refused'; status: 400 | 401 | 503; reason: string; headers?: Record<string, string> }
  | { outcome: 'answered'; body: Record<string, unknown> };

export interface WebhookProvider<P = unknown> {
  readonly name: 'ses' | 'sendgrid' | 'postmark' | 'mailgun';
  /** Checks before it trusts, and fetches nothing until every local check passed; never throws on bad input. */
  verify(request: WebhookRequest, now: Date): Promise<WebhookVerdict<P>>;
  /** The bounce events in a verified payload. */
  parse(payload: P, now: Date): ProviderEvent[];
}

export interface WebhookProviderDeps {
  bounces: Pick<BounceStore, 'claimToken'>;
  logger: Pick<Logger, 'info' | 'warn'>;
  /** Where SNS certificates come from and how subscriptions are confirmed (tests give their own; nothing is fetched). */
  sns?: { certificates: SnsCertificateSource; confirmer: SnsSubscriptionConfirmer };
}

const refused = (status: 400 | 401 | 503, reason: string, headers?: Record<string, string>): WebhookVerdict<never> => ({ outcome: 'refused', status, reason, headers });

function parseJson(raw: Buffer | string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8')) };
  } catch {
    return { ok: false };
  }
}

function zodMessage(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'invalid body';
}

function sesProvider(config: WebhooksConfig, ses: NonNullable<WebhooksConfig['ses']>, deps: WebhookProviderDeps): WebhookProvider<SesBody> {
  const sns = deps.sns ?? { certificates: new HttpsSnsCertificates(), confirmer: new HttpsSnsConfirmer() };
  return {
    name: 'ses',
    async verify(request, now) {
      const json = parseJson(request.rawBody);
      if (!json.ok) return refused(400, 'body is not JSON');
      const parsed = snsMessageSchema.safeParse(json.value);
      if (!parsed.success) return refused(400, `not an SNS message: ${zodMessage(parsed.error)}`);
      const message = parsed.data;
      // Topic, certificate host and freshness are checked before anything is fetched.
      const check = await verifySnsMessage(message, sns.certificates, now, config.maxAgeSeconds, ses.topicArns);
      if (!check.ok) return refused(check.status, check.reason, check.status === 503 ? { 'retry-after': '60' } : undefined);
      if (message.Type === 'SubscriptionConfirmation') {
        if (!isSnsUrl(message.SubscribeURL, 'subscribe')) return refused(400, 'SubscribeURL is not an Amazon SNS confirmation address');
        if (!ses.autoConfirm) {
          deps.logger.warn({ topic: message.TopicArn, subscribeUrl: message.SubscribeURL }, 'SNS subscription waiting: visit the SubscribeURL to confirm it');
          return { outcome: 'answered', body: { ok: true, confirmed: false } };
        }
        try {
          await sns.confirmer.confirm(message.SubscribeURL as string);
        } catch (error) {
          // Authentic, but Amazon did not take the confirmation just now: 503, so SNS sends it again.
          return refused(503, `could not confirm the SNS subscription just now: ${(error as Error).message}`, { 'retry-after': '60' });
        }
        deps.logger.info({ topic: message.TopicArn }, 'SNS subscription confirmed');
        return { outcome: 'answered', body: { ok: true, confirmed: true } };
      }
      if (message.Type === 'UnsubscribeConfirmation') {
        deps.logger.warn({ topic: message.TopicArn }, 'SNS says this endpoint was unsubscribed from the topic');
        return { outcome: 'answered', body: { ok: true } };
      }
      const body = parseJson(message.Message);
      if (!body.ok) return refused(400, 'SNS Message is not JSON');
      const notification = sesBodySchema.safeParse(body.value);
      if (!notification.success) return refused(400, `not an SES notification: ${zodMessage(notification.error)}`);
      return { outcome: 'verified', payload: notification.data };
    },
    parse: (payload, now) => sesEvents(payload, now),
  };
}

function sendgridProvider(config: WebhooksConfig, sendgrid: NonNullable<WebhooksConfig['sendgrid']>): WebhookProvider<ReturnType<typeof sendgridBodySchema.parse>> {
  const publicKey = sendgridPublicKey(sendgrid.publicKey);
  return {
    name: 'sendgrid',
    async verify(request, now) {
      const check = verifySendgrid({ publicKey, signature: request.header(sendgridSignatureHeader), timestamp: request.header(sendgridTimestampHeader), rawBody: request.rawBody, now, maxAgeSeconds: config.maxAgeSeconds });
      if (!check.ok) return refused(check.status, check.reason);
      const json = parseJson(request.rawBody);
      if (!json.ok) return refused(400, 'body is not JSON');
      const parsed = sendgridBodySchema.safeParse(json.value);
      if (!parsed.success) return refused(400, `not a SendGrid event batch: ${zodMessage(parsed.error)}`);
      return { outcome: 'verified', payload: parsed.data };
    },
    parse: (payload, now) => sendgridEvents(payload, now),
  };
}

function postmarkProvider(config: WebhooksConfig, postmark: NonNullable<WebhooksConfig['postmark']>): WebhookProvider<PostmarkBody> {
  return {
    name: 'postmark',
    async verify(request, now) {
      if (!checkBasicAuth(request.header('authorization'), postmark.username, postmark.password)) return refused(401, 'missing or wrong basic auth', { 'www-authenticate': 'Basic realm="daybreak-webhooks"' });
      const json = parseJson(request.rawBody);
      if (!json.ok) return refused(400, 'body is not JSON');
      const parsed = postmarkBodySchema.safeParse(json.value);
      if (!parsed.success) return refused(400, `not a Postmark webhook: ${zodMessage(parsed.error)}`);
      // Basic auth proves the sender, not the moment: an old record (a leaked log, a replay) must not act now.
      if (postmarkEvents(parsed.data, now).length > 0) {
        const fresh = checkPostmarkAge(parsed.data, now, config.maxAgeSeconds);
        if (!fresh.ok) return refused(fresh.status, fresh.reason);
      }
      return { outcome: 'verified', payload: parsed.data };
    },
    parse: (payload, now) => postmarkEvents(payload, now),
  };
}

function mailgunProvider(config: WebhooksConfig, mailgun: NonNullable<WebhooksConfig['mailgun']>, deps: WebhookProviderDeps): WebhookProvider<MailgunBody> {
  return {
    name: 'mailgun',
    async verify(request, now) {
      const json = parseJson(request.rawBody);
      if (!json.ok) return refused(400, 'body is not JSON (set the webhook to send JSON)');
      const parsed = mailgunBodySchema.safeParse(json.value);
      if (!parsed.success) {
        const unsigned = !(json.value && typeof json.value === 'object' && 'signature' in json.value);
        return unsigned ? refused(401, 'unsigned: no signature block') : refused(400, `not a Mailgun webhook: ${zodMessage(parsed.error)}`);
      }
      const check = verifyMailgun(parsed.data.signature, mailgun.signingKey, now, config.maxAgeSeconds);
      if (!check.ok) return refused(check.status, check.reason);
      // Mailgun signs the timestamp and token, not the body: a token may come back only with its own event.
      if (!(await deps.bounces.claimToken(parsed.data.signature.token, parsed.data['event-data'].id, config.maxAgeSeconds * 2))) return refused(401, 'signature token replayed with another event');
      return { outcome: 'verified', payload: parsed.data };
    },
    parse: (payload, now) => mailgunEvents(payload, now),
  };
}

/** The providers the config sets up, by name (the route's `/webhooks/:provider`); the others answer 404. */
export function configuredProviders(config: WebhooksConfig, deps: WebhookProviderDeps): Map<string, WebhookProvider> {
  const providers: WebhookProvider[] = [];
  if (config.ses) providers.push(sesProvider(config, config.ses, deps) as WebhookProvider);
  if (config.sendgrid) providers.push(sendgridProvider(config, config.sendgrid) as WebhookProvider);
  if (config.postmark) providers.push(postmarkProvider(config, config.postmark) as WebhookProvider);
  if (config.mailgun) providers.push(mailgunProvider(config, config.mailgun, deps) as WebhookProvider);
  return new Map(providers.map((p) => [p.name, p]));
}

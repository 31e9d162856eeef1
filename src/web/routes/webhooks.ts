import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { Runtime } from '../../app/runtime';
import { mailgunBodySchema, mailgunEvents, verifyMailgun } from '../../bounces/webhooks/mailgun';
import { checkBasicAuth, checkPostmarkAge, postmarkBodySchema, postmarkEvents } from '../../bounces/webhooks/postmark';
import type { ProviderEvent } from '../../bounces/webhooks/provider-event';
import { recordProviderEvents } from '../../bounces/webhooks/record';
import { sendgridBodySchema, sendgridEvents, sendgridPublicKey, sendgridSignatureHeader, sendgridTimestampHeader, verifySendgrid } from '../../bounces/webhooks/sendgrid';
import { sesBodySchema, sesEvents } from '../../bounces/webhooks/ses';
import { HttpsSnsCertificates, HttpsSnsConfirmer, isSnsUrl, snsMessageSchema, verifySnsMessage, type SnsCertificateSource, type SnsSubscriptionConfirmer } from '../../bounces/webhooks/sns';

export interface WebhookRouteOptions {
  runtime: Runtime;
  /** Where SNS certificates come from and how subscriptions are confirmed (tests give their own; nothing is fetched). */
  sns?: { certificates: SnsCertificateSource; confirmer: SnsSubscriptionConfirmer };
}

/** Webhook batches (SendGrid sends up to thousands of events per POST) are bigger than form posts. */
const webhookBodyLimit = 5 * 1024 * 1024;

function parseJson(raw: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(raw.toString('utf8')) };
  } catch {
    return { ok: false };
  }
}

function zodMessage(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'invalid body';
}

/**
 * ESP webhooks: POST /webhooks/ses (SNS), /sendgrid, /postmark, /mailgun. Each is registered only
 * when its provider is configured (otherwise 404). Nothing changes unless the payload is
 * authentic (401 otherwise), well formed (400 otherwise) and fresh (401 otherwise); a repeat
 * counts once. A check never ends in a 500: the one 5xx is 503 when an SNS certificate cannot be
 * fetched just now (or a confirmation not made), so SNS retries a message that may be genuine.
 * Registered as an encapsulated plugin: its raw-body parser (signatures are over the exact bytes)
 * never touches the other routes.
 */
export async function webhookRoutes(app: FastifyInstance, options: WebhookRouteOptions): Promise<void> {
  const { runtime } = options;
  const config = runtime.config.webhooks;
  const log = runtime.logger.child({ part: 'webhooks' });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: webhookBodyLimit }, (_request, body, done) => done(null, body));

  const refuse = (reply: FastifyReply, provider: string, status: number, reason: string) => {
    log.warn({ provider, status, reason }, 'webhook refused');
    return reply.code(status).send({ ok: false, error: reason });
  };
  const accept = async (reply: FastifyReply, provider: string, events: ProviderEvent[]) => {
    const summary = await recordProviderEvents(runtime.bouncePolicy, events);
    log.info({ provider, events: events.length, recorded: summary.recorded, duplicates: summary.duplicates }, 'webhook applied');
    return reply.code(200).send({ ok: true, events: events.length, recorded: summary.recorded, duplicates: summary.duplicates });
  };
  const rawBody = (request: FastifyRequest): Buffer => (Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0));

  if (config.ses) {
    const ses = config.ses;
    const sns = options.sns ?? { certificates: new HttpsSnsCertificates(), confirmer: new HttpsSnsConfirmer() };
    app.post('/webhooks/ses', async (request, reply) => {
      const json = parseJson(rawBody(request));
      if (!json.ok) return refuse(reply, 'ses', 400, 'body is not JSON');
      const parsed = snsMessageSchema.safeParse(json.value);
      if (!parsed.success) return refuse(reply, 'ses', 400, `not an SNS message: ${zodMessage(parsed.error)}`);
      const message = parsed.data;
      // Topic, certificate host and freshness are checked before anything is fetched.
      const check = await verifySnsMessage(message, sns.certificates, runtime.clock.now(), config.maxAgeSeconds, ses.topicArns);
      if (!check.ok) {
        if (check.status === 503) reply.header('retry-after', '60');
        return refuse(reply, 'ses', check.status, check.reason);
      }
      if (message.Type === 'SubscriptionConfirmation') {
        if (!isSnsUrl(message.SubscribeURL, 'subscribe')) return refuse(reply, 'ses', 400, 'SubscribeURL is not an Amazon SNS confirmation address');
        if (!ses.autoConfirm) {
          log.warn({ topic: message.TopicArn, subscribeUrl: message.SubscribeURL }, 'SNS subscription waiting: visit the SubscribeURL to confirm it');
          return reply.code(200).send({ ok: true, confirmed: false });
        }
        try {
          await sns.confirmer.confirm(message.SubscribeURL as string);
        } catch (error) {
          // Authentic, but Amazon did not take the confirmation just now: 503, so SNS sends it again.
          return refuse(reply.header('retry-after', '60'), 'ses', 503, `could not confirm the SNS subscription just now: ${(error as Error).message}`);
        }
        log.info({ topic: message.TopicArn }, 'SNS subscription confirmed');
        return reply.code(200).send({ ok: true, confirmed: true });
      }
      if (message.Type === 'UnsubscribeConfirmation') {
        log.warn({ topic: message.TopicArn }, 'SNS says this endpoint was unsubscribed from the topic');
        return reply.code(200).send({ ok: true });
      }
      const body = parseJson(Buffer.from(message.Message, 'utf8'));
      if (!body.ok) return refuse(reply, 'ses', 400, 'SNS Message is not JSON');
      const ses2 = sesBodySchema.safeParse(body.value);
      if (!ses2.success) return refuse(reply, 'ses', 400, `not an SES notification: ${zodMessage(ses2.error)}`);
      return accept(reply, 'ses', sesEvents(ses2.data, runtime.clock.now()));
    });
  }

  if (config.sendgrid) {
    const publicKey = sendgridPublicKey(config.sendgrid.publicKey);
    app.post('/webhooks/sendgrid', async (request, reply) => {
      const raw = rawBody(request);
      const header = (name: string) => {
        const v = request.headers[name];
        return Array.isArray(v) ? v[0] : v;
      };
      const check = verifySendgrid({ publicKey, signature: header(sendgridSignatureHeader), timestamp: header(sendgridTimestampHeader), rawBody: raw, now: runtime.clock.now(), maxAgeSeconds: config.maxAgeSeconds });
      if (!check.ok) return refuse(reply, 'sendgrid', check.status, check.reason);
      const json = parseJson(raw);
      if (!json.ok) return refuse(reply, 'sendgrid', 400, 'body is not JSON');
      const parsed = sendgridBodySchema.safeParse(json.value);
      if (!parsed.success) return refuse(reply, 'sendgrid', 400, `not a SendGrid event batch: ${zodMessage(parsed.error)}`);
      return accept(reply, 'sendgrid', sendgridEvents(parsed.data, runtime.clock.now()));
    });
  }

  if (config.postmark) {
    const { username, password } = config.postmark;
    app.post('/webhooks/postmark', async (request, reply) => {
      if (!checkBasicAuth(request.headers.authorization, username, password)) {
        reply.header('www-authenticate', 'Basic realm="daybreak-webhooks"');
        return refuse(reply, 'postmark', 401, 'missing or wrong basic auth');
      }
      const json = parseJson(rawBody(request));
      if (!json.ok) return refuse(reply, 'postmark', 400, 'body is not JSON');
      const parsed = postmarkBodySchema.safeParse(json.value);
      if (!parsed.success) return refuse(reply, 'postmark', 400, `not a Postmark webhook: ${zodMessage(parsed.error)}`);
      const now = runtime.clock.now();
      const events = postmarkEvents(parsed.data, now);
      // Basic auth proves the sender, not the moment: an old record (a leaked log, a replay) must not act now.
      if (events.length > 0) {
        const fresh = checkPostmarkAge(parsed.data, now, config.maxAgeSeconds);
        if (!fresh.ok) return refuse(reply, 'postmark', fresh.status, fresh.reason);
      }
      return accept(reply, 'postmark', events);
    });
  }

  if (config.mailgun) {
    const { signingKey } = config.mailgun;
    app.post('/webhooks/mailgun', async (request, reply) => {
      const json = parseJson(rawBody(request));
      if (!json.ok) return refuse(reply, 'mailgun', 400, 'body is not JSON (set the webhook to send JSON)');
      const parsed = mailgunBodySchema.safeParse(json.value);
      if (!parsed.success) {
        const unsigned = !(json.value && typeof json.value === 'object' && 'signature' in json.value);
        return refuse(reply, 'mailgun', unsigned ? 401 : 400, unsigned ? 'unsigned: no signature block' : `not a Mailgun webhook: ${zodMessage(parsed.error)}`);
      }
      const check = verifyMailgun(parsed.data.signature, signingKey, runtime.clock.now(), config.maxAgeSeconds);
      if (!check.ok) return refuse(reply, 'mailgun', check.status, check.reason);
      // Mailgun signs the timestamp and token, not the body: a token may come back only with its own event.
      const eventId = parsed.data['event-data'].id;
      const tokenKey = runtime.keys.bounceSeen(`mailgun-token:${parsed.data.signature.token}`);
      await runtime.redis.set(tokenKey, eventId, 'EX', config.maxAgeSeconds * 2, 'NX');
      if ((await runtime.redis.get(tokenKey)) !== eventId) return refuse(reply, 'mailgun', 401, 'signature token replayed with another event');
      return accept(reply, 'mailgun', mailgunEvents(parsed.data, runtime.clock.now()));
    });
  }
}

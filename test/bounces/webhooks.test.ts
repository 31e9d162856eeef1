import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { bounceReport } from '../../src/bounces/report';
import { SnsCertificateUnavailable, snsStringToSign, type SnsMessage } from '../../src/bounces/webhooks/sns';
import { FixedClock } from '../../src/core/clock';
import type { Runtime } from '../../src/app/runtime';
import { buildWebServer } from '../../src/web/server';
import { webhookRoutes } from '../../src/web/routes/webhooks';
import { closeRuntime, testConfig, testRuntime, uniquePrefix } from '../helpers/runtime';
import { corpus } from '../helpers/corpus';

const { dir: webhookCorpus, present, describe: maybe } = corpus('webhooks');
const read = (p: string) => fs.readFileSync(path.join(webhookCorpus, p), 'utf8');
const mailgunKey = 'key-0p6mqbf74lb20gzq9f4dhpn9rg3zyk26';

interface SignedSendgrid {
  name: string;
  publicKey: string;
  signature: string;
  timestamp: string;
  body: string;
}

maybe('ESP webhooks with the providers\' sample payloads', () => {
  const prefix = uniquePrefix('webhooks');
  const clock = new FixedClock('2022-08-27T08:57:50Z');
  const runtimes: Runtime[] = [];
  const apps: FastifyInstance[] = [];
  let runtime: Runtime;

  /** A runtime (same Redis prefix, so the same data) whose config has the given webhooks. */
  function runtimeWith(webhooks: Record<string, unknown>): Runtime {
    const r = testRuntime(testConfig(prefix, { webhooks: { maxAgeSeconds: 900, ...webhooks } }), { clock });
    runtimes.push(r);
    return r;
  }

  async function subscriber(email: string): Promise<string> {
    const existing = await runtime.subscribers.findIdByEmail(email);
    if (existing) return existing;
    return (await runtime.subscribers.add({ email, newsletters: ['national'], confirmed: true, source: 'test' })).subscriber.id;
  }

  beforeAll(async () => {
    runtime = runtimeWith({});
    for (const email of ['alice@example.com', 'john@example.com', 'hello@world.com', 'invalid@gmail.com', 'relayuser@test.com', 'jane@example.com', 'richard@example.com']) await subscriber(email);
  });

  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
    for (const r of runtimes.slice(1)) {
      await r.close();
      r.redis.disconnect();
    }
    await closeRuntime(runtime);
  });

  test('a provider left out of the config has no endpoint (404), and other routes keep their own body parsing', async () => {
    const app = await buildWebServer(runtimeWith({ mailgun: { signingKey: mailgunKey } }));
    apps.push(app);
    for (const provider of ['ses', 'sendgrid', 'postmark']) {
      const res = await app.inject({ method: 'POST', url: `/webhooks/${provider}`, headers: { 'content-type': 'application/json' }, payload: '{}' });
      expect(res.statusCode).toBe(404);
    }
    expect((await app.inject({ method: 'POST', url: '/webhooks/mailgun', headers: { 'content-type': 'application/json' }, payload: '{}' })).statusCode).toBe(401);
    // Form posts elsewhere are still parsed as forms, not swallowed by the webhooks' raw parser.
    const form = await app.inject({ method: 'POST', url: '/unsubscribe/not-a-token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'List-Unsubscribe=One-Click' });
    expect(form.statusCode).not.toBe(415);
    expect(form.statusCode).toBeLessThan(500);
  });

  describe('Mailgun (HMAC-SHA256 over timestamp + token)', () => {
    let app: FastifyInstance;
    const post = (payload: string) => app.inject({ method: 'POST', url: '/webhooks/mailgun', headers: { 'content-type': 'application/json' }, payload });

    beforeAll(async () => {
      app = await buildWebServer(runtimeWith({ mailgun: { signingKey: mailgunKey } }));
      apps.push(app);
    });

    test('a permanent failure suppresses the reader, once however often it is delivered', async () => {
      clock.set(new Date(1661590666 * 1000 + 5000));
      const body = read('mailgun/permanent_failure.json');
      const res = await post(body);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ ok: true, events: 1, recorded: 1 });
      expect(await runtime.subscribers.suppression('alice@example.com')).toMatchObject({ reason: 'hard bounce', source: 'mailgun', evidence: { replyCode: 550, reason: 'userunknown' } });
      const again = await post(body);
      expect(again.json()).toMatchObject({ ok: true, recorded: 0, duplicates: 1 });
      const log = await bounceReport(runtime, { since: new Date(0) });
      expect(log.entries.filter((e) => e.id === 'mailgun:G9Bn5sl1TC6nu79C8C0bwg')).toHaveLength(1);
    });

    test('forged, unsigned, stale and replayed-token payloads get 401 and change nothing', async () => {
      clock.set(new Date(1661621361 * 1000 + 5000));
      const body = JSON.parse(read('mailgun/temporary_failure.json')) as { signature: { signature: string; token: string }; 'event-data': { id: string; recipient: string } };
      const forged = structuredClone(body);
      forged.signature.signature = forged.signature.signature.replace(/^./, (c) => (c === 'a' ? 'b' : 'a'));
      expect((await post(JSON.stringify(forged))).statusCode).toBe(401);
      const unsigned = { 'event-data': body['event-data'] };
      expect((await post(JSON.stringify(unsigned))).statusCode).toBe(401);
      clock.set(new Date(1661621361 * 1000 + 3600_000));
      expect((await post(JSON.stringify(body))).statusCode).toBe(401);
      clock.set(new Date(1661621361 * 1000 + 5000));
      // The genuine one is a deferral: logged, not counted.
      expect((await post(JSON.stringify(body))).json()).toMatchObject({ ok: true, events: 1, recorded: 1 });
      // Its valid signature reused for a different event (Mailgun does not sign the body) is refused.
      const replay = structuredClone(body);
      replay['event-data'].id = 'another-event';
      replay['event-data'].recipient = 'john@example.com';
      expect((await post(JSON.stringify(replay))).statusCode).toBe(401);
      expect(await runtime.subscribers.isSuppressed('john@example.com')).toBe(false);
      expect((await post('not json')).statusCode).toBe(400);
    });

    test('a complaint unsubscribes; deliveries, opens and clicks change nothing', async () => {
      clock.set(new Date(1661621468 * 1000 + 5000));
      expect((await post(read('mailgun/spam_complaints.json'))).json()).toMatchObject({ ok: true, events: 1, recorded: 1 });
      expect((await runtime.subscribers.findByEmail('alice@example.com'))?.status).toBe('unsubscribed');
      const send = (f: string) => {
        const body = JSON.parse(read(`mailgun/${f}`)) as { signature: { timestamp: string } };
        clock.set(new Date(Number(body.signature.timestamp) * 1000 + 5000));
        return post(JSON.stringify(body));
      };
      for (const f of ['delivered_messages.json', 'opens.json', 'clicks.json']) {
        const res = await send(f);
        expect({ f, status: res.statusCode, events: res.json().events }).toEqual({ f, status: 200, events: 0 });
      }
      // The sample set reuses clicks.json's signed token for accepted.json's different event: a replay.
      const replayed = await send('accepted.json');
      expect(replayed.statusCode).toBe(401);
      expect(replayed.json().error).toContain('replayed');
    });
  });

  describe('Postmark (basic auth)', () => {
    let app: FastifyInstance;
    const auth = `Basic ${Buffer.from('postmark:s3cret-hook-pass').toString('base64')}`;
    const post = (payload: string, authorization?: string) => app.inject({ method: 'POST', url: '/webhooks/postmark', headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) }, payload });

    beforeAll(async () => {
      app = await buildWebServer(runtimeWith({ postmark: { username: 'postmark', password: 's3cret-hook-pass' } }));
      apps.push(app);
    });

    test('without or with the wrong credentials: 401 and nothing changes', async () => {
      const none = await post(read('postmark/bounce.json'));
      expect(none.statusCode).toBe(401);
      expect(none.headers['www-authenticate']).toContain('Basic');
      expect((await post(read('postmark/bounce.json'), `Basic ${Buffer.from('postmark:guess').toString('base64')}`)).statusCode).toBe(401);
      expect(await runtime.subscribers.isSuppressed('john@example.com')).toBe(false);
    });

    test('a record older than webhooks.maxAgeSeconds is refused (401) even with the right credentials; one with no date is 400', async () => {
      clock.set('2022-09-02T14:33:00Z');
      const old = { ...(JSON.parse(read('postmark/bounce.json')) as Record<string, unknown>), Email: 'jane@example.com', BouncedAt: '2019-11-05T16:33:54.9070259Z' };
      const res = await post(JSON.stringify(old), auth);
      expect(res.statusCode).toBe(401);
      expect(res.json().error).toMatch(/^stale event \(BouncedAt 2019-11-05T16:33:54\.907Z/);
      // Ahead by more than the window is no better (a clock cannot be trusted that far).
      expect((await post(JSON.stringify({ ...old, BouncedAt: '2022-09-02T16:00:00Z' }), auth)).statusCode).toBe(401);
      const change = { ...(JSON.parse(read('postmark/subscription_change.json')) as Record<string, unknown>), Recipient: 'jane@example.com', ChangedAt: '2019-11-05T16:33:54Z' };
      expect((await post(JSON.stringify(change), auth)).statusCode).toBe(401);
      const { BouncedAt: _dropped, ...undated } = old;
      expect((await post(JSON.stringify(undated), auth)).statusCode).toBe(400);
      expect(await runtime.subscribers.isSuppressed('jane@example.com')).toBe(false);
    });

    test('a hard bounce suppresses; the spam complaint unsubscribes; the same record twice counts once', async () => {
      clock.set('2022-09-02T14:33:00Z');
      expect((await post(read('postmark/bounce.json'), auth)).json()).toMatchObject({ ok: true, recorded: 1 });
      expect(await runtime.subscribers.suppression('john@example.com')).toMatchObject({ reason: 'hard bounce', source: 'postmark' });
      expect((await post(read('postmark/bounce.json'), auth)).json()).toMatchObject({ recorded: 0, duplicates: 1 });
      expect((await post(read('postmark/spam_complaint.json'), auth)).json()).toMatchObject({ recorded: 1 });
      expect((await runtime.subscribers.findByEmail('john@example.com'))?.status).toBe('unsubscribed');
      // Postmark's own suppression record repeats the hard bounce: logged, nothing counted twice.
      expect((await post(read('postmark/subscription_change.json'), auth)).json()).toMatchObject({ ok: true, events: 1 });
      for (const f of ['delivery.json', 'open.json', 'link_click.json']) expect((await post(read(`postmark/${f}`), auth)).json()).toMatchObject({ ok: true, events: 0 });
      expect((await post('{"no":"record type"}', auth)).statusCode).toBe(400);
    });
  });

  describe('SendGrid (ECDSA P-256 signed Event Webhook, the really signed samples)', () => {
    const signed = present ? (JSON.parse(read('sendgrid/signed-events.json')) as SignedSendgrid[]) : [];

    async function appFor(sample: SignedSendgrid): Promise<FastifyInstance> {
      const app = await buildWebServer(runtimeWith({ sendgrid: { publicKey: sample.publicKey } }));
      apps.push(app);
      clock.set(new Date(Number(sample.timestamp) * 1000 + 10_000));
      return app;
    }
    const post = (app: FastifyInstance, sample: SignedSendgrid, over: { body?: string; signature?: string | null; timestamp?: string | null } = {}) => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (over.signature !== null) headers['x-twilio-email-event-webhook-signature'] = over.signature ?? sample.signature;
      if (over.timestamp !== null) headers['x-twilio-email-event-webhook-timestamp'] = over.timestamp ?? sample.timestamp;
      return app.inject({ method: 'POST', url: '/webhooks/sendgrid', headers, payload: Buffer.from(over.body ?? sample.body, 'utf8') });
    };

    test('a dropped "Bounced Address" suppresses; forged, unsigned and stale bodies get 401', async () => {
      const sample = signed.find((s) => s.name === 'single-dropped') as SignedSendgrid;
      const app = await appFor(sample);
      expect((await post(app, sample, { body: sample.body.replace('hello@world.com', 'jane@example.com') })).statusCode).toBe(401);
      expect((await post(app, sample, { signature: null, timestamp: null })).statusCode).toBe(401);
      expect((await post(app, sample, { timestamp: String(Number(sample.timestamp) + 1) })).statusCode).toBe(401);
      clock.set(new Date(Number(sample.timestamp) * 1000 + 3 * 3600_000));
      expect((await post(app, sample)).statusCode).toBe(401);
      expect(await runtime.subscribers.isSuppressed('jane@example.com')).toBe(false);
      expect(await runtime.subscribers.isSuppressed('hello@world.com')).toBe(false);
      clock.set(new Date(Number(sample.timestamp) * 1000 + 10_000));
      expect((await post(app, sample)).json()).toMatchObject({ ok: true, events: 1, recorded: 1 });
      expect(await runtime.subscribers.suppression('hello@world.com')).toMatchObject({ reason: 'hard bounce', source: 'sendgrid' });
      expect((await post(app, sample)).json()).toMatchObject({ recorded: 0, duplicates: 1 });
    });

    test('Gmail\'s 552 5.2.2 (SendGrid type "blocked") is a soft bounce, and "processed" is ignored', async () => {
      const sample = signed.find((s) => s.name === 'processed-and-bounce') as SignedSendgrid;
      const app = await appFor(sample);
      expect((await post(app, sample)).json()).toMatchObject({ ok: true, events: 1, recorded: 1 });
      expect(await runtime.subscribers.isSuppressed('invalid@gmail.com')).toBe(false);
      const log = await bounceReport(runtime, { since: new Date(0) });
      expect(log.entries.find((e) => e.email === 'invalid@gmail.com')).toMatchObject({ kind: 'soft', status: '5.2.2', reason: 'mailboxfull', action: 'soft 1/3' });
    });
  });

  describe('Amazon SES through SNS (signature checked with our own certificate)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-sns-'));
    let key: string;
    let cert: string;
    const certUrl = 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem';
    const fetched: string[] = [];
    const confirmed: string[] = [];
    /** What the certificate source does: serve our certificate, answer as Amazon does for a missing one, or not answer. */
    let certAnswer: 'certificate' | 'missing' | 'unreachable' = 'certificate';
    const topic = 'arn:aws:sns:us-east-1:168781634622:ses-inbound-grelay';
    let app: FastifyInstance;

    function sign(message: Record<string, unknown>): Record<string, unknown> {
      const m = { ...message, SignatureVersion: '1', SigningCertURL: certUrl } as unknown as SnsMessage;
      return { ...m, Signature: crypto.sign('RSA-SHA1', Buffer.from(snsStringToSign(m), 'utf8'), key).toString('base64') };
    }
    function envelope(sesBody: string, at: string, id: string): Record<string, unknown> {
      return sign({ Type: 'Notification', MessageId: id, TopicArn: topic, Message: sesBody, Timestamp: at });
    }
    const post = (payload: unknown) => app.inject({ method: 'POST', url: '/webhooks/ses', headers: { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': 'Notification' }, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) });

    beforeAll(async () => {
      // A certificate of our own, made with openssl: nothing is fetched from Amazon.
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=sns.amazonaws.com'], { stdio: 'ignore' });
      key = fs.readFileSync(path.join(dir, 'key.pem'), 'utf8');
      cert = fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8');
      const r = runtimeWith({ ses: { topicArns: [topic, 'arn:aws:sns:us-east-1:032756942992:dev-relay-2022-04'], autoConfirm: true } });
      app = Fastify();
      await app.register(webhookRoutes, {
        deps: r,
        sns: {
          certificates: {
            certificate: async (url) => {
              fetched.push(url);
              if (certAnswer === 'missing') throw new Error('HTTP 404');
              if (certAnswer === 'unreachable') throw new SnsCertificateUnavailable('connect ETIMEDOUT');
              return cert;
            },
          },
          confirmer: { confirm: async (url) => { confirmed.push(url); } },
        },
      });
      apps.push(app);
      clock.set('2022-01-18T15:46:40Z');
    });

    test('the corpus envelopes, signed by Amazon and not by our key, are refused: 401, nothing changes', async () => {
      for (const f of ['hard_bounce_sns_body.json', 'soft_bounce_sns_body.json', 'spam_bounce_sns_body.json']) {
        expect((await post(read(`ses/sns/${f}`))).statusCode).toBe(401);
      }
      expect(await runtime.subscribers.isSuppressed('relayuser@test.com')).toBe(false);
    });

    test('a signed hard bounce (SES suppression list) suppresses; the same notification again counts once', async () => {
      const original = JSON.parse(read('ses/sns/hard_bounce_sns_body.json')) as Record<string, unknown>;
      const signedMessage = sign(original);
      const res = await post(signedMessage);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ ok: true, events: 1, recorded: 1 });
      expect(fetched).toContain(certUrl);
      expect(await runtime.subscribers.suppression('relayuser@test.com')).toMatchObject({ reason: 'hard bounce', source: 'ses', evidence: { status: '5.1.1' } });
      expect((await post(signedMessage)).json()).toMatchObject({ recorded: 0, duplicates: 1 });
    });

    test('tampered, stale, foreign-topic and wrong-certificate-host messages get 401', async () => {
      const original = sign(JSON.parse(read('ses/sns/soft_bounce_sns_body.json')) as Record<string, unknown>);
      const tampered = { ...original, Message: String(original.Message).replace('relayuser@test.com', 'jane@example.com') };
      expect((await post(tampered)).statusCode).toBe(401);
      clock.set('2022-01-19T15:46:40Z');
      expect((await post(original)).statusCode).toBe(401);
      clock.set('2022-01-18T15:46:40Z');
      const foreign = sign({ ...(JSON.parse(read('ses/sns/soft_bounce_sns_body.json')) as Record<string, unknown>), TopicArn: 'arn:aws:sns:us-east-1:999999999999:someone-else' });
      expect((await post(foreign)).statusCode).toBe(401);
      const evilCert = { ...original, SigningCertURL: 'https://evil.example/SimpleNotificationService.pem' };
      expect((await post(evilCert)).statusCode).toBe(401);
      expect((await post('{"Type":"Notification"}')).statusCode).toBe(400);
      expect(await runtime.subscribers.isSuppressed('jane@example.com')).toBe(false);
      // The genuine one gets through; the sample reuses the hard bounce's feedbackId, SES's id for the
      // event, so it is recognised as that event again and counts nothing twice.
      expect((await post(original)).json()).toMatchObject({ ok: true, events: 1, recorded: 0, duplicates: 1 });
    });

    test('a forged message is refused (401) before anything is fetched: foreign topic, a non-SNS certificate host such as sns.s3.amazonaws.com', async () => {
      clock.set('2022-01-18T15:46:40Z');
      const body = JSON.parse(read('ses/sns/soft_bounce_sns_body.json')) as Record<string, unknown>;
      const before = fetched.length;
      const foreign = sign({ ...body, TopicArn: 'arn:aws:sns:us-east-1:999999999999:someone-else' });
      for (const message of [
        { ...foreign, SigningCertURL: 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem' },
        { ...sign(body), SigningCertURL: 'https://sns.s3.amazonaws.com/SimpleNotificationService-0000.pem' },
        { ...sign(body), SigningCertURL: 'https://sns.us-east-1.amazonaws.com.evil.example/x.pem' },
        { ...sign(body), SigningCertURL: 'https://sns.us-east-1.amazonaws.com/cert.pem?x=1' },
      ]) {
        const res = await post(message);
        expect({ url: message.SigningCertURL, status: res.statusCode }).toEqual({ url: message.SigningCertURL, status: 401 });
      }
      expect(fetched.length).toBe(before);
    });

    test('for our topic on an SNS host: a certificate Amazon does not have is 401, one it cannot serve just now is 503 (SNS retries); never a 500', async () => {
      clock.set('2022-01-18T15:46:40Z');
      const plausible = { ...sign(JSON.parse(read('ses/sns/soft_bounce_sns_body.json')) as Record<string, unknown>), SigningCertURL: 'https://sns.eu-west-2.amazonaws.com/SimpleNotificationService-forged.pem' };
      try {
        certAnswer = 'missing';
        const missing = await post(plausible);
        expect(missing.statusCode).toBe(401);
        expect(missing.json().error).toMatch(/no SNS signing certificate/);
        certAnswer = 'unreachable';
        const unreachable = await post(plausible);
        expect(unreachable.statusCode).toBe(503);
        expect(unreachable.headers['retry-after']).toBe('60');
      } finally {
        certAnswer = 'certificate';
      }
      expect(await runtime.subscribers.isSuppressed('jane@example.com')).toBe(false);
    });

    test('SubscriptionConfirmation: the corpus one (not signed by our key) is refused; a signed one is confirmed without fetching anything', async () => {
      const corpusConfirmation = JSON.parse(read('ses/sns/subscription_confirmation_invalid_sns_body.json')) as Record<string, unknown>;
      clock.set('2022-04-19T20:25:50Z');
      expect((await post(corpusConfirmation)).statusCode).toBe(401);
      expect(confirmed).toHaveLength(0);
      const res = await post(sign(corpusConfirmation));
      expect(res.json()).toMatchObject({ ok: true, confirmed: true });
      expect(confirmed).toEqual([corpusConfirmation.SubscribeURL]);
    });

    test('SES notification bodies: bounces, complaints and delays count as they should; deliveries and auto-replies do not', async () => {
      clock.set('2022-06-01T00:00:00Z');
      const at = clock.now().toISOString();
      const send = async (file: string) => (await post(envelope(read(`ses/ses/${file}`), at, file))).json() as { events: number; recorded: number };
      expect(await send('bounce_notification_with_dsn_example_ses_body.json')).toMatchObject({ events: 1, recorded: 1 });
      expect(await runtime.subscribers.suppression('jane@example.com')).toMatchObject({ reason: 'hard bounce', evidence: { status: '5.1.1' } });
      expect(await send('complaint_notification_with_feedback_example_ses_body.json')).toMatchObject({ events: 1, recorded: 1 });
      expect((await runtime.subscribers.findByEmail('richard@example.com'))?.status).toBe('unsubscribed');
      expect(await send('delivery_delay_event_example_ses_body.json')).toMatchObject({ events: 1 });
      expect(await runtime.subscribers.isSuppressed('recipient@example.com')).toBe(false);
      for (const f of ['delivery_notification_example_ses_body.json', 'delivery_event_example_ses_body.json', 'send_event_example_ses_body.json', 'open_event_example_ses_body.json', 'click_event_example_ses_body.json', 'ooto_bounce_notification_from_simulator_ses_body.json']) {
        expect({ f, events: (await send(f)).events }).toEqual({ f, events: 0 });
      }
    });
  });
});

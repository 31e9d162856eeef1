/** The webhook checks on their own (no corpus, no Redis): SNS hosts, the order SNS checks run in, and every provider's freshness rule. */
import crypto from 'node:crypto';
import { verifyMailgun } from '../../src/bounces/webhooks/mailgun';
import { checkPostmarkAge, postmarkBodySchema } from '../../src/bounces/webhooks/postmark';
import { verifySendgrid } from '../../src/bounces/webhooks/sendgrid';
import { isSnsUrl, SnsCertificateUnavailable, snsMessageSchema, verifySnsMessage, type SnsCertificateSource } from '../../src/bounces/webhooks/sns';

const now = new Date('2026-11-24T09:00:00Z');
const maxAge = 900;

describe('SNS certificate and confirmation addresses', () => {
  test('only https://sns.<region>.amazonaws.com (or .com.cn in China) with a path ending .pem serves certificates', () => {
    const allowed = [
      'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem',
      'https://sns.eu-west-2.amazonaws.com/SimpleNotificationService-01d088a6f77103d0fe307c0069e40ed6.pem',
      'https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-x.pem',
      'https://sns.ap-southeast-2.amazonaws.com/SimpleNotificationService-x.pem',
      'https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-x.pem',
      'https://sns.cn-northwest-1.amazonaws.com.cn/SimpleNotificationService-x.pem',
    ];
    const refused = [
      'https://sns.s3.amazonaws.com/SimpleNotificationService-x.pem', // an S3 bucket called "sns"
      'https://sns.s3-external-1.amazonaws.com/x.pem',
      'https://sns.amazonaws.com/x.pem',
      'https://s3.amazonaws.com/sns/x.pem',
      'https://sns.us-east-1.amazonaws.com.evil.example/x.pem',
      'https://sns.us-east-1.amazonaws.com/x.pem.txt',
      'https://sns.us-east-1.amazonaws.com/x.pem?download=1',
      'https://sns.us-east-1.amazonaws.com/x.pem#frag',
      'https://sns.us-east-1.amazonaws.com:8443/x.pem',
      'https://user@sns.us-east-1.amazonaws.com/x.pem',
      'http://sns.us-east-1.amazonaws.com/x.pem',
      'https://sns.cn-north-1.amazonaws.com/x.pem', // China's regions live under .com.cn
      'https://sns.us-east-1.amazonaws.com.cn/x.pem',
      'https://sns.US-EAST-1.amazonaws.com.evil/x.pem',
      'not a url',
      undefined,
    ];
    for (const url of allowed) expect({ url, ok: isSnsUrl(url, 'certificate') }).toEqual({ url, ok: true });
    for (const url of refused) expect({ url, ok: isSnsUrl(url, 'certificate') }).toEqual({ url, ok: false });
    expect(isSnsUrl('https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=x&Token=y', 'subscribe')).toBe(true);
    expect(isSnsUrl('https://sns.s3.amazonaws.com/?Action=ConfirmSubscription&TopicArn=x&Token=y', 'subscribe')).toBe(false);
  });
});

describe('SNS message checks', () => {
  const topic = 'arn:aws:sns:us-east-1:123456789012:daybreak-bounces';
  const message = (over: Record<string, unknown> = {}) => snsMessageSchema.parse({
    Type: 'Notification', MessageId: 'm-1', TopicArn: topic, Message: '{}', Timestamp: now.toISOString(), SignatureVersion: '1', Signature: 'c2lnbmF0dXJl',
    SigningCertURL: 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem', ...over,
  });
  /** A certificate source that records each fetch and answers as told. */
  function source(answer: () => string): SnsCertificateSource & { fetched: string[] } {
    const fetched: string[] = [];
    return { fetched, certificate: async (url) => { fetched.push(url); return answer(); } };
  }

  test('topic, certificate host and freshness are checked before anything is fetched, each a 401 (400 for a bad date)', async () => {
    const certs = source(() => { throw new Error('must not be fetched'); });
    expect(await verifySnsMessage(message({ TopicArn: 'arn:aws:sns:us-east-1:999999999999:other' }), certs, now, maxAge, [topic])).toMatchObject({ ok: false, status: 401, reason: expect.stringMatching(/not in webhooks\.ses\.topicArns/) });
    expect(await verifySnsMessage(message({ SigningCertURL: 'https://sns.s3.amazonaws.com/x.pem' }), certs, now, maxAge, [topic])).toMatchObject({ ok: false, status: 401 });
    expect(await verifySnsMessage(message({ Timestamp: '2019-01-01T00:00:00Z' }), certs, now, maxAge, [topic])).toMatchObject({ ok: false, status: 401, reason: expect.stringMatching(/^stale/) });
    expect(await verifySnsMessage(message({ Timestamp: 'yesterday' }), certs, now, maxAge, [topic])).toMatchObject({ ok: false, status: 400 });
    expect(certs.fetched).toEqual([]);
  });

  test('a certificate that cannot be had is an answer, never an exception: 401 when refused, 503 when passing', async () => {
    const missing = source(() => { throw new Error('HTTP 404'); });
    expect(await verifySnsMessage(message(), missing, now, maxAge, [topic])).toMatchObject({ ok: false, status: 401 });
    const down = source(() => { throw new SnsCertificateUnavailable('connect ECONNREFUSED'); });
    expect(await verifySnsMessage(message(), down, now, maxAge, [topic])).toMatchObject({ ok: false, status: 503 });
    const garbage = source(() => 'not a certificate');
    expect(await verifySnsMessage(message(), garbage, now, maxAge, [topic])).toMatchObject({ ok: false, status: 401, reason: 'bad SNS signature' });
    expect(missing.fetched).toHaveLength(1);
  });
});

describe('freshness, provider by provider', () => {
  test('Postmark: BouncedAt, ChangedAt or ReceivedAt within webhooks.maxAgeSeconds either way; no readable date is malformed', () => {
    const record = (over: Record<string, unknown>) => postmarkBodySchema.parse({ RecordType: 'Bounce', Type: 'HardBounce', Email: 'a@example.com', ...over });
    expect(checkPostmarkAge(record({ BouncedAt: '2026-11-24T08:50:00Z' }), now, maxAge)).toEqual({ ok: true });
    expect(checkPostmarkAge(record({ BouncedAt: '2019-11-05T16:33:54.9070259Z' }), now, maxAge)).toMatchObject({ ok: false, status: 401 });
    expect(checkPostmarkAge(record({ BouncedAt: '2026-11-24T10:00:00Z' }), now, maxAge)).toMatchObject({ ok: false, status: 401 });
    expect(checkPostmarkAge(record({ RecordType: 'SubscriptionChange', ChangedAt: '2019-11-05T16:33:54Z' }), now, maxAge)).toMatchObject({ ok: false, status: 401 });
    expect(checkPostmarkAge(record({ RecordType: 'Open', ReceivedAt: '2026-11-24T08:59:00Z' }), now, maxAge)).toEqual({ ok: true });
    expect(checkPostmarkAge(record({}), now, maxAge)).toMatchObject({ ok: false, status: 400 });
    expect(checkPostmarkAge(record({ BouncedAt: 'last week' }), now, maxAge)).toMatchObject({ ok: false, status: 400 });
  });

  test('Mailgun: the signed timestamp must be within the window', () => {
    const key = 'mailgun-signing-key-for-tests';
    const signed = (timestamp: string) => {
      const token = 'a'.repeat(50);
      return { timestamp, token, signature: crypto.createHmac('sha256', key).update(timestamp + token).digest('hex') };
    };
    const t = Math.floor(now.getTime() / 1000);
    expect(verifyMailgun(signed(String(t - 60)), key, now, maxAge)).toEqual({ ok: true });
    expect(verifyMailgun(signed(String(t - 3600)), key, now, maxAge)).toMatchObject({ ok: false, status: 401, reason: 'stale signature timestamp' });
    expect(verifyMailgun(signed(String(t + 3600)), key, now, maxAge)).toMatchObject({ ok: false, status: 401 });
  });

  test('SendGrid: the signed timestamp header must be within the window', () => {
    const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const rawBody = Buffer.from('[{"email":"a@example.com","event":"bounce","sg_event_id":"e1"}]');
    const check = (timestamp: string) => verifySendgrid({ publicKey, rawBody, now, maxAgeSeconds: maxAge, timestamp, signature: crypto.sign('sha256', Buffer.concat([Buffer.from(timestamp), rawBody]), privateKey).toString('base64') });
    const t = Math.floor(now.getTime() / 1000);
    expect(check(String(t - 60))).toEqual({ ok: true });
    expect(check(String(t - 3600))).toMatchObject({ ok: false, status: 401, reason: 'stale signature timestamp' });
  });
});

/** Amazon SNS message verification: topic, certificate host, freshness and signature, checked before anything is fetched. */
import crypto from 'node:crypto';
import { z } from 'zod';

/**
 * Amazon SNS message signatures (https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html).
 * The certificate comes from a source the caller provides: in production it fetches from the
 * SigningCertURL (only ever an https://sns.<region>.amazonaws.com/*.pem address); tests give a
 * certificate of their own, so nothing is fetched.
 */
export const snsMessageSchema = z.object({
  Type: z.enum(['Notification', 'SubscriptionConfirmation', 'UnsubscribeConfirmation']),
  MessageId: z.string().min(1).max(200),
  TopicArn: z.string().min(1).max(400),
  Message: z.string(),
  Timestamp: z.string().min(1),
  SignatureVersion: z.enum(['1', '2']),
  Signature: z.string().min(1),
  SigningCertURL: z.string().min(1),
  Subject: z.string().optional(),
  Token: z.string().optional(),
  SubscribeURL: z.string().optional(),
  UnsubscribeURL: z.string().optional(),
}).passthrough();

export type SnsMessage = z.infer<typeof snsMessageSchema>;

/** Where the signing certificate (PEM) for a SigningCertURL comes from. */
export interface SnsCertificateSource {
  certificate(url: string): Promise<string>;
}

/** Confirms an SNS subscription (visits its SubscribeURL). */
export interface SnsSubscriptionConfirmer {
  confirm(subscribeUrl: string): Promise<void>;
}

/**
 * Amazon's SNS endpoints: `sns.<region>.amazonaws.com` (us-east-1, us-gov-west-1, ...) and, in
 * China, `sns.cn-<region>.amazonaws.com.cn`. Nothing else under amazonaws.com: anyone can serve a
 * file from `sns.s3.amazonaws.com` (an S3 bucket named "sns").
 */
const SNS_HOST = /^sns\.(?:(?!cn-)[a-z]{2}(?:-[a-z]+){1,2}-\d{1,2}\.amazonaws\.com|cn-[a-z]+-\d{1,2}\.amazonaws\.com\.cn)$/;

/** Only Amazon's own SNS hosts may serve certificates (a path ending .pem) or confirmation links. */
export function isSnsUrl(value: string | undefined, kind: 'certificate' | 'subscribe'): boolean {
  if (!value || value.length > 2048) return false;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.protocol !== 'https:' || url.port !== '' || url.username || url.password || url.hash) return false;
  if (!SNS_HOST.test(url.hostname)) return false;
  return kind === 'certificate' ? url.search === '' && /^\/[\w./-]+\.pem$/.test(url.pathname) : url.searchParams.get('Action') === 'ConfirmSubscription';
}

/** The canonical string SNS signs: `Key\nValue\n` for the type's fields, in this order, absent ones left out. */
export function snsStringToSign(m: SnsMessage): string {
  const fields = m.Type === 'Notification'
    ? ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type']
    : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
  const record = m as unknown as Record<string, unknown>;
  return fields.filter((f) => typeof record[f] === 'string').map((f) => `${f}\n${record[f] as string}\n`).join('');
}

/**
 * 400: malformed; 401: not authentic, not ours or stale; 503: the certificate could not be
 * fetched just now (SNS retries on 5xx and gives up on 4xx, so a genuine message is not lost).
 */
export type SnsCheck = { ok: true } | { ok: false; status: 400 | 401 | 503; reason: string };

/** Thrown by a certificate source when the failure is passing (network, timeout, Amazon's 5xx), not an answer. */
export class SnsCertificateUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SnsCertificateUnavailable';
  }
}

/**
 * Checks an SNS message, cheapest and most telling first, and fetches nothing until the message
 * names one of `topics` (when given), an SNS certificate address and a fresh timestamp. Never
 * throws: every failure is an answer.
 */
export async function verifySnsMessage(m: SnsMessage, certs: SnsCertificateSource, now: Date, maxAgeSeconds: number, topics?: readonly string[]): Promise<SnsCheck> {
  // SNS signs for every AWS account's topics: only ours may talk to us.
  if (topics && !topics.includes(m.TopicArn)) return { ok: false, status: 401, reason: `topic ${m.TopicArn.slice(0, 200)} is not in webhooks.ses.topicArns` };
  if (!isSnsUrl(m.SigningCertURL, 'certificate')) return { ok: false, status: 401, reason: 'SigningCertURL is not an Amazon SNS certificate address' };
  const sent = Date.parse(m.Timestamp);
  if (Number.isNaN(sent)) return { ok: false, status: 400, reason: 'Timestamp is not a date' };
  if (Math.abs(now.getTime() - sent) > maxAgeSeconds * 1000) return { ok: false, status: 401, reason: `stale message (sent ${m.Timestamp.slice(0, 40)})` };
  let pem: string;
  try {
    pem = await certs.certificate(m.SigningCertURL);
  } catch (error) {
    if (error instanceof SnsCertificateUnavailable) return { ok: false, status: 503, reason: `cannot fetch the SNS signing certificate just now (${error.message}); SNS will retry` };
    return { ok: false, status: 401, reason: `no SNS signing certificate at ${m.SigningCertURL} (${(error as Error).message})` };
  }
  let valid = false;
  try {
    const verifier = crypto.createVerify(m.SignatureVersion === '1' ? 'RSA-SHA1' : 'RSA-SHA256');
    verifier.update(snsStringToSign(m), 'utf8');
    valid = verifier.verify(pem, Buffer.from(m.Signature, 'base64'));
  } catch {
    valid = false;
  }
  return valid ? { ok: true } : { ok: false, status: 401, reason: 'bad SNS signature' };
}

/** Fetches and caches SNS certificates over HTTPS (production); refuses anything but SNS hosts. */
export class HttpsSnsCertificates implements SnsCertificateSource {
  private readonly cache = new Map<string, Promise<string>>();

  async certificate(url: string): Promise<string> {
    if (!isSnsUrl(url, 'certificate')) throw new Error('not an SNS certificate URL');
    let pending = this.cache.get(url);
    if (!pending) {
      pending = fetch(url, { signal: AbortSignal.timeout(10_000) }).then(async (res) => {
        if (res.status >= 500) throw new SnsCertificateUnavailable(`HTTP ${res.status}`);
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const pem = await res.text().catch((error: unknown) => {
          throw new SnsCertificateUnavailable(`reading the certificate: ${(error as Error).message}`, { cause: error });
        });
        // Checks it is a certificate (throws otherwise) before trusting it for later messages.
        new crypto.X509Certificate(pem);
        return pem;
      }, (error: unknown) => {
        // No answer at all (DNS, connection, timeout): passing, not a verdict on the message.
        throw new SnsCertificateUnavailable((error as Error).message, { cause: error });
      });
      pending.catch(() => this.cache.delete(url));
      this.cache.set(url, pending);
    }
    return pending;
  }
}

/** Confirms subscriptions by GETting the SubscribeURL (production); refuses anything but SNS hosts. */
export class HttpsSnsConfirmer implements SnsSubscriptionConfirmer {
  async confirm(subscribeUrl: string): Promise<void> {
    if (!isSnsUrl(subscribeUrl, 'subscribe')) throw new Error('not an SNS ConfirmSubscription URL');
    const res = await fetch(subscribeUrl, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`SNS answered HTTP ${res.status} to the subscription confirmation`);
  }
}

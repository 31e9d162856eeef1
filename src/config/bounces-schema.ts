/** The configuration of bounce handling, the circuit breaker, the bounce server and the ESP webhooks (zod). */
import { z } from 'zod';

/**
 * Config for bounces, complaints and suppression (the bounces issue): the policy, the circuit
 * breaker, the DSN mailbox (bounce server) and the ESP webhooks. Every field has a default, so an
 * install that says nothing gets the policy the docs describe and every webhook off.
 */

const breakerDefaults = { enabled: true, minSends: 500, bounceRate: 0.05, complaintRate: 0.003 };
const serverDefaults = { enabled: false, host: '0.0.0.0', port: 2525, maxMessageBytes: 5 * 1024 * 1024, parseTimeBudgetMs: 5000 };

export const bouncesDefaults = {
  suppressOnHardBounce: true,
  softBounceLimit: 3,
  softBounceWindowDays: 14,
  complaintUnsubscribes: true,
  dedupeDays: 30,
  logRetentionDays: 90,
  keepUnparsed: 500,
  breaker: breakerDefaults,
  server: serverDefaults,
};

export const bouncesSchema = z.object({
  /** A hard bounce (no such user or domain) suppresses the address at once. */
  suppressOnHardBounce: z.boolean().default(true),
  /** Soft bounces (mailbox full, blocked, expired, ...) suppress after this many ... */
  softBounceLimit: z.number().int().min(1).max(100).default(3),
  /** ... within this many days (each edition counts once). */
  softBounceWindowDays: z.number().int().min(1).max(365).default(14),
  /** A spam complaint unsubscribes the reader from every newsletter (and always suppresses). */
  complaintUnsubscribes: z.boolean().default(true),
  /** How long an event id is remembered, so a redelivered webhook or DSN counts once. */
  dedupeDays: z.number().int().min(1).max(365).default(30),
  /** How long the per-event bounce log (what `daybreak bounces` reports) is kept. */
  logRetentionDays: z.number().int().min(1).max(3650).default(90),
  /** Unparseable messages kept for ops to read (the oldest go first). */
  keepUnparsed: z.number().int().min(0).max(100_000).default(500),
  /**
   * Pauses an edition whose early sends bounce or draw complaints far above normal: that is a bad
   * import or a blocklisting, and carrying on burns the sender's reputation.
   */
  breaker: z.object({
    enabled: z.boolean().default(true),
    /**
     * Judged once this many messages of the edition were attempted (a few bounces of ten sends say
     * nothing), and from then on with every bounce or complaint, while the edition is sending.
     */
    minSends: z.number().int().min(1).default(breakerDefaults.minSends),
    /** Hard bounces plus blocking rejections, as a share of attempted sends. */
    bounceRate: z.number().gt(0).max(1).default(breakerDefaults.bounceRate),
    /** Spam complaints as a share of attempted sends. */
    complaintRate: z.number().gt(0).max(1).default(breakerDefaults.complaintRate),
  }).strict().default(breakerDefaults),
  /** The DSN mailbox: an SMTP listener for mail to the bounce domain (VERP addresses). */
  server: z.object({
    /** Also run it inside `daybreak start`. `daybreak bounce-server` runs it regardless. */
    enabled: z.boolean().default(false),
    host: z.string().min(1).default(serverDefaults.host),
    port: z.number().int().min(0).max(65535).default(serverDefaults.port),
    maxMessageBytes: z.number().int().min(10_000).max(50 * 1024 * 1024).default(serverDefaults.maxMessageBytes),
    /** A message whose parse runs longer is stopped (its worker thread ended) and kept for review. */
    parseTimeBudgetMs: z.number().int().min(100).max(120_000).default(serverDefaults.parseTimeBudgetMs),
  }).strict().default(serverDefaults),
}).strict();

const secret = z.string().min(8, 'must be at least 8 characters');

export const webhooksSchema = z.object({
  /** Signed payloads older (or further in the future) than this are refused as stale. */
  maxAgeSeconds: z.number().int().min(30).max(7 * 24 * 3600).default(900),
  /** Amazon SES through SNS: only these topics are accepted (SNS signs for any AWS account's topic). */
  ses: z.object({
    topicArns: z.array(z.string().regex(/^arn:aws[\w-]*:sns:[\w-]+:\d{12}:[\w-]+$/, 'must be an SNS topic ARN')).min(1),
    /** Confirm SNS subscriptions by visiting their SubscribeURL (only ever an sns.*.amazonaws.com address). */
    autoConfirm: z.boolean().default(true),
  }).strict().optional(),
  /** SendGrid signed Event Webhook: the verification key from the SendGrid console (base64 DER). */
  sendgrid: z.object({ publicKey: z.string().min(40).regex(/^[A-Za-z0-9+/=\s-]+$/, 'must be the base64 key SendGrid shows') }).strict().optional(),
  /** Postmark webhooks authenticate with HTTP basic auth set in the webhook URL. */
  postmark: z.object({ username: z.string().min(1).max(200), password: secret }).strict().optional(),
  /** Mailgun: the HTTP webhook signing key. */
  mailgun: z.object({ signingKey: secret }).strict().optional(),
}).strict();

export type BouncesConfig = z.infer<typeof bouncesSchema>;
export type WebhooksConfig = z.infer<typeof webhooksSchema>;

/** The configuration schema (zod): newsletters, delivery, web, bounces; every value validated with a message. */
import { z } from 'zod';
import cron from 'node-cron';
import { canonicalTimeZone } from '../core/timezone';
import { bouncesDefaults, bouncesSchema, webhooksSchema } from './bounces-schema';
import { pacingSchema } from './pacing-schema';

/** IANA time zone check without a dependency: Intl refuses unknown zones. */
function isTimeZone(value: string): boolean {
  return canonicalTimeZone(value) !== undefined;
}

const idPattern = /^[a-z0-9][a-z0-9-]{0,39}$/;

/** Largest feed accepted, in bytes: a source's own maxBytes, else the config's feedMaxBytes (default 5 MB). */
const feedMaxBytesSchema = z.number().int().min(1024).max(512 * 1024 * 1024);
export const DEFAULT_FEED_MAX_BYTES = 5 * 1024 * 1024;

const feedSourceSchema = z.union([
  z.object({ url: z.url({ protocol: /^https?$/ }), section: z.string().min(1).optional(), timeoutMs: z.number().int().positive().max(120_000).optional(), maxBytes: feedMaxBytesSchema.optional() })
    .strict().transform((s) => ({ kind: 'url' as const, url: s.url, section: s.section, timeoutMs: s.timeoutMs, maxBytes: s.maxBytes })),
  z.object({ file: z.string().min(1), section: z.string().min(1).optional(), maxBytes: feedMaxBytesSchema.optional() })
    .strict().transform((s) => ({ kind: 'file' as const, path: s.file, section: s.section, maxBytes: s.maxBytes })),
  z.object({ sample: z.string().min(1), section: z.string().min(1).optional(), maxBytes: feedMaxBytesSchema.optional() })
    .strict().transform((s) => ({ kind: 'sample' as const, path: s.sample, section: s.section, maxBytes: s.maxBytes })),
]);

const mailbox = z.string().min(3).max(320).regex(/^[^\r\n]+$/, 'must be one line');

export const newsletterSchema = z.object({
  id: z.string().regex(idPattern, 'lowercase letters, digits and dashes, starting with a letter or digit'),
  name: z.string().min(1).max(80),
  description: z.string().max(300).default(''),
  cron: z.string().refine((v) => cron.validate(v), 'not a valid cron expression'),
  timezone: z.string().refine(isTimeZone, 'not a known IANA time zone'),
  source: feedSourceSchema,
  maxArticles: z.number().int().min(1).max(50).default(12),
  /** Window for the first edition, when there is no earlier cutoff to start from. */
  lookbackHours: z.number().positive().max(24 * 14).default(24),
  /** With no new articles: record the edition as skipped (true) or send it anyway (false). */
  skipWhenEmpty: z.boolean().default(true),
  from: mailbox,
  replyTo: mailbox.optional(),
  /** Handlebars, with {{name}}, {{date}} (e.g. "Tuesday 24 November 2026") and {{lead}} (lead headline). */
  subject: z.string().min(1).max(200).default('{{name}} briefing: {{date}}'),
  /**
   * When readers get it: `newsletter-zone`, everyone at the cron's time in `timezone`; `reader-zone`,
   * each reader at the cron's time in their own zone (readers without one: `timezone`), the day's
   * one edition sent in waves, one per zone (docs/delivery.md).
   */
  delivery: z.enum(['newsletter-zone', 'reader-zone']).default('newsletter-zone'),
  /** How long after its scheduled time an edition may still start; later it is held for ops. */
  sendWindowHours: z.number().positive().max(24).default(3),
  rateLimit: z.object({
    perSecond: z.number().int().positive().optional(),
    dailyCap: z.number().int().positive().optional(),
  }).strict().default({}),
  /** Offered to readers on the sign-up form (false: ops-only lists). */
  public: z.boolean().default(true),
  /** Ticked by default on the sign-up form. */
  defaultChecked: z.boolean().default(false),
  /**
   * Story links (docs/editorial.md). `redirect`: each story link goes through a short signed
   * redirect on our web server that counts clicks per story, in aggregate only (false: links go
   * straight to the article, nothing is counted). `perReader`: also keep which reader clicked
   * what, for readers who signed up under a consent text saying so; off by default.
   */
  clicks: z.object({
    redirect: z.boolean().default(true),
    perReader: z.boolean().default(false),
  }).strict().default({ redirect: true, perReader: false }),
  /**
   * The editors' say before a scheduled send: `none` (sent at its slot, as always), `veto` (built
   * ahead of its slot, previewed to the editors, sent at its slot unless one holds it) or
   * `required` (nothing is sent until an editor approves).
   */
  approval: z.enum(['none', 'veto', 'required']).default('none'),
  /** How long before its slot an edition under approval is built and previewed to the editors. */
  approvalLeadMinutes: z.number().int().min(5).max(24 * 60).default(60),
  /** Who gets the preview with approve and hold links (needed when approval is veto or required). */
  editors: z.array(z.email()).max(50).default([]),
}).strict().superRefine((n, ctx) => {
  if (n.approval !== 'none' && n.editors.length === 0) {
    ctx.addIssue({ code: 'custom', path: ['editors'], message: `approval "${n.approval}" needs at least one editor address to send the preview to` });
  }
});

const rateLimitSchema = z.object({
  limit: z.number().int().min(1).max(1_000_000),
  windowSeconds: z.number().int().min(1).max(7 * 24 * 3600),
}).strict();

const webDefaults = {
  allowedOrigins: [] as string[],
  trustProxy: false as boolean | string | string[],
  consentText: 'By signing up you agree to receive the newsletters you chose by email. You can unsubscribe at any time with one click, and we never share your details.',
  rateLimits: {
    signupPerIp: { limit: 20, windowSeconds: 3600 },
    signupPerEmail: { limit: 3, windowSeconds: 3600 },
    badTokenPerIp: { limit: 30, windowSeconds: 600 },
    pagesPerIp: { limit: 300, windowSeconds: 600 },
  },
};

/** Subscriber-facing web pages and the sign-up API (subscriptions issue). */
export const webSchema = z.object({
  /** Other sites allowed to embed the sign-up form or call POST /api/subscribers (exact origins, e.g. https://partner.example). */
  allowedOrigins: z.array(z.url({ protocol: /^https?$/ }).transform((u) => new URL(u).origin)).max(100).default([]),
  /**
   * Which proxies may set X-Forwarded-For (per-IP rate limits read the client address): fastify
   * trustProxy value. Default false, no proxy: otherwise anything that reaches the port from a
   * trusted address (loopback: any local process, a sidecar, a port forward) picks its own IP.
   * Behind a reverse proxy, name it: its address or range, e.g. "10.0.0.5" or ["10.0.0.0/8"].
   */
  trustProxy: z.union([z.boolean(), z.string().min(1), z.array(z.string().min(1)).max(100)]).default(false),
  /** Shown beside the button and stored with each consent record. */
  consentText: z.string().min(10).max(500).default(webDefaults.consentText),
  /** From address of the confirmation email; default: the first newsletter's. */
  confirmFrom: mailbox.optional(),
  rateLimits: z.object({
    signupPerIp: rateLimitSchema.default(webDefaults.rateLimits.signupPerIp),
    signupPerEmail: rateLimitSchema.default(webDefaults.rateLimits.signupPerEmail),
    /** Requests with an invalid or tampered token. */
    badTokenPerIp: rateLimitSchema.default(webDefaults.rateLimits.badTokenPerIp),
    /** Every subscriber page view and form post (not the RFC 8058 one-click POST, which mail providers send in bulk). */
    pagesPerIp: rateLimitSchema.default(webDefaults.rateLimits.pagesPerIp),
  }).strict().default(webDefaults.rateLimits),
}).strict();

const sentinelAddressSchema = z.object({
  host: z.string().min(1).max(253).regex(/^[^\s/@]+$/, 'a host name or IP address, without a scheme or port'),
  port: z.number({ error: 'a port number (Sentinel listens on 26379 by default)' }).int().min(1).max(65535),
}).strict();

/**
 * Redis behind Sentinel (docs/scaling.md): every connection asks these sentinels which node is the
 * master and follows it through a failover. When set, it is used instead of redisUrl.
 */
export const redisSentinelSchema = z.object({
  sentinels: z.array(sentinelAddressSchema, { error: 'a list of {"host", "port"}: set redis.sentinels in the config or REDIS_SENTINELS=host:port,host:port' })
    .min(1, 'name at least one sentinel (three or more, on separate machines, in production)').max(32),
  masterName: z.string({ error: 'the master\'s name in the sentinels\' `sentinel monitor <name> …` line: set redis.masterName or REDIS_SENTINEL_MASTER' })
    .regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, dot, dash or underscore (the name in `sentinel monitor <name> …`)'),
  /** AUTH for the master and replicas (their requirepass / ACL user). */
  username: z.string().min(1).max(128).optional(),
  password: z.string().min(1).max(512).optional(),
  /** AUTH for the sentinels themselves, when they have a requirepass of their own. */
  sentinelUsername: z.string().min(1).max(128).optional(),
  sentinelPassword: z.string().min(1).max(512).optional(),
  db: z.number().int().min(0).max(255).optional(),
}).strict();

const retentionDefaults = { settleDays: 7, readerDataDays: 400, sentArticlesDays: 30, subscriberHistoryEntries: 50 };

/** How long what Daybreak writes is kept (docs/architecture.md, "Redis model": every key family's end). */
export const retentionSchema = z.object({
  /**
   * Days after an edition is done (or cancelled) before its ledger is compacted: long enough for
   * late DSNs, complaints and ops' resends, which all still work on a compacted edition.
   */
  settleDays: z.number().min(0).max(365).default(retentionDefaults.settleDays),
  /** Days after an edition finished before its per-reader data goes (its counts, history and archive page stay). */
  readerDataDays: z.number().int().min(1).max(100 * 365).default(retentionDefaults.readerDataDays),
  /** Days an article id is remembered as sent by its newsletter (so a re-dated story is not sent twice). */
  sentArticlesDays: z.number().int().min(1).max(10 * 365).default(retentionDefaults.sentArticlesDays),
  /** Entries of a reader's history kept, newest (their consent log is kept whole, until erasure). */
  subscriberHistoryEntries: z.number().int().min(1).max(10_000).default(retentionDefaults.subscriberHistoryEntries),
}).strict().refine((r) => r.readerDataDays > r.settleDays, { message: 'readerDataDays must be longer than settleDays', path: ['readerDataDays'] });

export const configSchema = z.object({
  publicUrl: z.url({ protocol: /^https?$/ }).default('http://localhost:3000'),
  port: z.number().int().min(0).max(65535).default(3000),
  redisUrl: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').default('redis://127.0.0.1:6379'),
  /** Sentinel instead of one server (REDIS_SENTINELS, REDIS_SENTINEL_MASTER); absent: redisUrl. */
  redis: redisSentinelSchema.optional(),
  /** Empty: write messages into outboxDir instead of sending. */
  smtpUrl: z.string().regex(/^smtps?:\/\//, 'must start with smtp:// or smtps://').optional(),
  outboxDir: z.string().min(1).default('outbox'),
  secret: z.string().min(16, 'must be at least 16 characters'),
  /**
   * With NODE_ENV=production, newsletters reading the shipped sample stories (`source.sample`) are
   * refused unless this says so: a production install must never mail demo content to readers.
   */
  allowSampleSources: z.boolean().default(false),
  /** Key prefix for everything Daybreak keeps in Redis (queues included). */
  redisPrefix: z.string().regex(/^[A-Za-z0-9_.-]+$/).default('daybreak'),
  organisation: z.object({
    name: z.string().min(1).default('Daybreak'),
    postalAddress: z.string().min(1).default('Daybreak Media Ltd, 1 Quayside, Newcastle upon Tyne NE1 3DX, United Kingdom'),
    website: z.url().default('https://daybreak.example'),
  }).strict().default({ name: 'Daybreak', postalAddress: 'Daybreak Media Ltd, 1 Quayside, Newcastle upon Tyne NE1 3DX, United Kingdom', website: 'https://daybreak.example' }),
  web: webSchema.default(webDefaults),
  delivery: z.object({
    concurrency: z.number().int().min(1).max(1000).default(50),
    smtpMaxConnections: z.number().int().min(1).max(100).default(5),
    /**
     * No longer used, accepted so older config files still load: a send that fails for a reason
     * that may pass (SMTP 4xx, 421, the relay unreachable) is retried until the edition's send
     * window closes (retryWindowHours), not a fixed number of times.
     */
    attempts: z.number().int().min(1).max(20).optional(),
    /** First wait before retrying a send that failed for a reason that may pass; doubles each try up to retryBackoffMaxMs. */
    backoffMs: z.number().int().min(10).default(2000),
    /** The longest wait between two tries of one send. */
    retryBackoffMaxMs: z.number().int().min(10).max(3_600_000).default(120_000),
    /**
     * How long after an edition's slot its failed sends are retried. Unset: the newsletter's
     * sendWindowHours, the same window the scheduler holds a late edition by. When it closes,
     * readers still unsent are settled as failed with the reason (`resend --failed` sends them).
     */
    retryWindowHours: z.number().positive().max(48).optional(),
    /**
     * The transport circuit breaker: when most recent sends cannot reach the relay (connection
     * refused or lost, 421, TLS or relay authentication), every worker stops sending and one probes
     * the relay every probeIntervalMs; sending resumes when it answers. No reader is charged.
     */
    transportBreaker: z.object({
      /** Distinct readers whose send failed at the connection level, within the last minute, before it can trip. */
      minFailures: z.number().int().min(1).max(10_000).default(5),
      /** Share of the last minute's sends (in this process) that failed at the connection level, above which it trips. */
      failureRatio: z.number().min(0).max(1).default(0.5),
      probeIntervalMs: z.number().int().min(100).max(600_000).default(15_000),
    }).strict().default({ minFailures: 5, failureRatio: 0.5, probeIntervalMs: 15_000 }),
    /** A command waiting on an edition (run-edition, resend) gives up with exit 3 when Redis stays unreachable this long. */
    redisOutageLimitSeconds: z.number().int().min(1).max(86_400).default(60),
    fanoutPageSize: z.number().int().min(10).max(10_000).default(1000),
    /** Envelope sender domain for VERP bounce addresses (bounces issue); empty: the From address. */
    bounceDomain: z.string().regex(/^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$/i, 'must be a domain name like bounces.daybreak.example').optional(),
    /** Local part of VERP envelope senders: <local>+<token>@<bounceDomain>. */
    bounceLocalPart: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,19}$/, 'lowercase letters, digits, dot, dash or underscore, at most 20').refine((v) => v !== 'unsubscribe', 'is reserved for List-Unsubscribe mailto addresses').default('bounces'),
    dkim: z.object({
      domainName: z.string().min(1),
      keySelector: z.string().min(1),
      privateKeyPath: z.string().min(1),
    }).strict().optional(),
    /** BullMQ lock: how soon a crashed worker's jobs are taken over. */
    lockDurationMs: z.number().int().min(1000).default(30_000),
    stalledIntervalMs: z.number().int().min(500).default(30_000),
    /** Tries for an edition build (a feed that is down may answer a minute later), and the wait between. */
    buildAttempts: z.number().int().min(1).max(10).default(3),
    buildRetryDelayMs: z.number().int().min(10).default(5000),
  }).strict().default({
    concurrency: 50, smtpMaxConnections: 5, backoffMs: 2000, retryBackoffMaxMs: 120_000, transportBreaker: { minFailures: 5, failureRatio: 0.5, probeIntervalMs: 15_000 }, redisOutageLimitSeconds: 60,
    fanoutPageSize: 1000, lockDurationMs: 30_000, stalledIntervalMs: 30_000, buildAttempts: 3, buildRetryDelayMs: 5000, bounceLocalPart: 'bounces',
  }),
  /** Pacing per mailbox provider (docs/delivery.md): each group's limits, and how its pace adapts to deferrals. */
  pacing: pacingSchema.prefault({}),
  /** Bounce and complaint policy, circuit breaker and DSN mailbox (bounces issue). */
  bounces: bouncesSchema.default(bouncesDefaults),
  /** ESP webhooks (bounces issue); a provider left out has its endpoint off (404). */
  webhooks: webhooksSchema.default({ maxAgeSeconds: 900 }),
  /** How long editions' per-reader data, article memory and reader history are kept. */
  retention: retentionSchema.default(retentionDefaults),
  /** Largest feed read from a URL, file or sample, in bytes, unless a source sets its own maxBytes. */
  feedMaxBytes: feedMaxBytesSchema.default(DEFAULT_FEED_MAX_BYTES),
  newsletters: z.array(newsletterSchema).min(1).superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((n, i) => {
      if (seen.has(n.id)) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicate newsletter id "${n.id}"` });
      seen.add(n.id);
    });
  }),
}).strict().transform((config) => ({
  ...config,
  // Each source carries its limit, so every reader of a source (edition builds, the feed command) applies it.
  newsletters: config.newsletters.map((n): z.infer<typeof newsletterSchema> => ({ ...n, source: { ...n.source, maxBytes: n.source.maxBytes ?? config.feedMaxBytes } })),
}));

export type DaybreakConfig = z.infer<typeof configSchema>;
export type NewsletterConfig = z.infer<typeof newsletterSchema>;
export type DeliveryConfig = DaybreakConfig['delivery'];
export type WebConfig = DaybreakConfig['web'];
export type { PacingConfig, ProviderGroup } from './pacing-schema';
export type RedisSentinelConfig = z.infer<typeof redisSentinelSchema>;

export type RetentionConfig = DaybreakConfig['retention'];

/** The composition root: builds every store and collaborator once from the config and wires the modules together. */
import type Redis from 'ioredis';
import type { LoadedConfig } from '../config/load';
import type { NewsletterConfig } from '../config/schema';
import { systemClock, type Clock } from '../core/clock';
import { isRedisConnectionError, unknownNewsletter } from '../core/errors';
import { Keys } from '../core/keys';
import { createLogger, type Logger } from '../core/logger';
import { createRedis, redisTargetOf } from '../core/redis';
import { SubscriberStore } from '../subscribers/store';
import { TokenSigner } from '../mail/tokens';
import { EditionStore } from '../delivery/edition-store';
import { BounceStore } from '../bounces/bounce-store';
import type { BouncePolicy } from '../bounces/policy';
import { DeliveryMetricsStore } from '../delivery/metrics-store';
import { SendOutcomes } from '../delivery/outcomes';
import { PaceStore } from '../delivery/pace-store';
import type { MxResolver, ProviderDirectory } from '../delivery/provider-directory';
import { TransportBreakerStore } from '../delivery/transport-breaker';
import type { DeliveryQueues } from '../delivery/queues';
import { createTransport, type MailTransport } from '../mail/transports/index';
import { ClickStore } from '../ops/click-store';

/**
 * The composition root: everything a Daybreak process needs, built once from the config, and the
 * wiring between modules (the bounce policy hears of send failures through the send outcomes).
 * Only entry points (CLI commands, workers, the web server) and tests see it whole; every module
 * declares the narrow collaborators it uses, which this object happens to provide.
 */
export class Runtime {
  readonly keys: Keys;
  readonly redis: Redis;
  readonly editions: EditionStore;
  /** Cluster-wide delivery counters (metrics). */
  readonly metrics: DeliveryMetricsStore;
  /** Each provider group's pace, its counts, and an edition's MX answers (docs/delivery.md). */
  readonly paceStore: PaceStore;
  private providersInstance?: ProviderDirectory;
  /** Bounce events applied, the bounce log, soft-bounce windows, unreadable messages. */
  readonly bounces: BounceStore;
  /** The mail relay's circuit breaker, shared by every worker. */
  readonly transportBreaker: TransportBreakerStore;
  readonly subscribers: SubscriberStore;
  /** Story clicks: aggregate counts per edition and story (docs/editorial.md). */
  readonly clicks: ClickStore;
  private queuesInstance?: DeliveryQueues;
  readonly signer: TokenSigner;
  /** Each copy's outcome: metrics count them; the bounce policy records refusals at send time. */
  readonly outcomes: SendOutcomes;
  private bouncePolicyInstance?: BouncePolicy;
  private transportInstance?: MailTransport;

  constructor(
    readonly config: LoadedConfig,
    readonly options: { clock?: Clock; logger?: Logger; transport?: MailTransport; redis?: Redis; mxResolver?: MxResolver } = {},
  ) {
    this.keys = new Keys(config.redisPrefix);
    this.redis = options.redis ?? createRedis(redisTargetOf(config), {}, { warn: (d, m) => this.logger.warn(d, m), info: (d, m) => this.logger.info(d, m) });
    this.editions = new EditionStore(this.redis, this.keys, { sentArticlesDays: config.retention.sentArticlesDays });
    this.metrics = new DeliveryMetricsStore(this.redis, this.keys);
    this.paceStore = new PaceStore(this.redis, this.keys);
    this.bounces = new BounceStore(this.redis, this.keys);
    this.transportBreaker = new TransportBreakerStore(this.redis, this.keys);
    // Newsletters delivered in each reader's zone keep a zone index of their members (membership).
    const zoned = config.newsletters.filter((n) => n.delivery === 'reader-zone').map((n) => ({ id: n.id, timezone: n.timezone }));
    this.subscribers = new SubscriberStore(this.redis, this.keys, config.secret, { now: () => this.clock.now() }, { historyEntries: config.retention.subscriberHistoryEntries, zoned: () => zoned });
    this.signer = new TokenSigner(config.secret);
    this.clicks = new ClickStore(this.redis, this.keys, config.secret);
    this.transportInstance = options.transport;
    this.outcomes = new SendOutcomes({ error: (d, m) => this.logger.error(d, m) });
    // Only the reader's server speaking for the reader is a bounce: trouble reaching our own relay
    // (connection failures, which are retried and then cut off at the window's end) never is.
    this.outcomes.subscribe('failed', async (e) => {
      if (e.failure && e.failure.kind !== 'connection' && e.email) await this.bouncePolicy.recordSendFailure({ editionId: e.editionId, subscriberId: e.subscriberId, email: e.email, failure: e.failure, at: e.at });
    });
  }

  /** The pause ops use, for the bounce circuit breaker: false when the edition was no longer sending. */
  readonly pauseEdition = async (editionId: string, options: { by: string; reason: string; evidence: Record<string, unknown> }): Promise<boolean> => {
    const { pauseEdition, EditionControlError } = require('../ops/control') as typeof import('../ops/control');
    try {
      return !(await pauseEdition(this, editionId, options)).unchanged;
    } catch (error) {
      if (error instanceof EditionControlError) return false;
      throw error;
    }
  };

  /** What is due in the edition lifecycle and retention (the scheduler runs it hourly; `daybreak editions compact` on demand). */
  readonly housekeeping = async (): Promise<unknown> => {
    const { runLifecycle } = require('../ops/lifecycle') as typeof import('../ops/lifecycle');
    return runLifecycle(this);
  };

  /** The bounce and complaint policy (loaded on first use: most processes never see a bounce). */
  get bouncePolicy(): BouncePolicy {
    if (!this.bouncePolicyInstance) {
      const { BouncePolicy: Policy } = require('../bounces/policy') as typeof import('../bounces/policy');
      this.bouncePolicyInstance = new Policy(this);
    }
    return this.bouncePolicyInstance;
  }

  get clock(): Clock {
    return this.options.clock ?? systemClock;
  }

  get logger(): Logger {
    if (!this.options.logger) this.options.logger = createLogger();
    return this.options.logger;
  }

  /** Created on first use, so commands that never touch a queue never load BullMQ. */
  get queues(): DeliveryQueues {
    if (!this.queuesInstance) {
      const { DeliveryQueues: Queues } = require('../delivery/queues') as typeof import('../delivery/queues');
      // A lost Redis is reported once by the connection (core/redis.ts), not once per queue and retry.
      this.queuesInstance = new Queues(this.redis, this.keys.bull, (err) => (isRedisConnectionError(err) ? undefined : this.logger.error({ err }, 'queue error')), this.providers.groups);
    }
    return this.queuesInstance;
  }

  /** Which provider group each domain is paced in (the table, then MX lookups when configured). */
  get providers(): ProviderDirectory {
    if (!this.providersInstance) {
      const { ProviderDirectory: Directory, systemMxResolver } = require('../delivery/provider-directory') as typeof import('../delivery/provider-directory');
      this.providersInstance = new Directory({ paceStore: this.paceStore, mxResolver: this.options.mxResolver ?? systemMxResolver(this.config.pacing.mxTimeoutMs), logger: this.logger, config: this.config });
    }
    return this.providersInstance;
  }

  /** Created on first use, so commands that never send never open SMTP connections. */
  get transport(): MailTransport {
    if (!this.transportInstance) this.transportInstance = createTransport(this.config);
    return this.transportInstance;
  }

  /**
   * When a newsletter's first edition after `after` arrives, in its own time zone, for the welcome
   * email: subscribers sit below delivery, so the root lends them delivery's slot arithmetic.
   */
  readonly firstEditionLabel = (newsletter: NewsletterConfig, after: Date): string => {
    const { nextSlot, slotLabel } = require('../delivery/schedule') as typeof import('../delivery/schedule');
    const slot = nextSlot(newsletter.cron, newsletter.timezone, after);
    return slot ? slotLabel(slot, newsletter.timezone) : 'with its next edition';
  };

  newsletter(id: string): NewsletterConfig {
    const found = this.config.newsletters.find((n) => n.id === id);
    if (!found) throw unknownNewsletter(id, this.config.newsletters.map((n) => n.id));
    return found;
  }

  /** Deletes every key under this install's prefix, BullMQ's included (the demo's reset, tests, benches). */
  async deleteAllKeys(): Promise<void> {
    const stream = this.redis.scanStream({ match: `${this.config.redisPrefix}:*`, count: 1000 });
    for await (const keys of stream as AsyncIterable<string[]>) if (keys.length) await this.redis.unlink(...keys);
  }

  async close(): Promise<void> {
    if (this.redis.status !== 'ready' && !this.options.redis) {
      // Redis is gone (a command giving up on an outage): nothing queued can land, and a graceful
      // close would wait for it to come back.
      this.redis.disconnect();
      const bounded = (p: Promise<unknown> | undefined) => Promise.race([p?.catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
      await bounded(this.queuesInstance?.close());
      await this.transportInstance?.close();
      return;
    }
    await this.queuesInstance?.close();
    await this.transportInstance?.close();
    // QUIT, not a hard disconnect: writes already queued (ledger records, metric counts) still land.
    if (!this.options.redis) await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

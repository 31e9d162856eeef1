import { EventEmitter } from 'node:events';
import type Redis from 'ioredis';
import type { LoadedConfig } from '../config/load';
import type { NewsletterConfig } from '../config/schema';
import { systemClock, type Clock } from '../core/clock';
import { unknownNewsletter } from '../core/errors';
import { Keys } from '../core/keys';
import { createLogger, type Logger } from '../core/logger';
import { createRedis } from '../core/redis';
import { SubscriberStore } from '../subscribers/store';
import { TokenSigner } from '../subscribers/tokens';
import { EditionStore } from './edition-store';
import type { DeliveryQueues } from './queues';
import { createTransport, type MailTransport } from './transports';

/** What happens to each message, for metrics and bounce handling to listen to. */
export interface DeliveryEvents {
  sent: [{ editionId: string; newsletterId: string; subscriberId: string; email: string; messageId: string; ms: number }];
  failed: [{ editionId: string; newsletterId: string; subscriberId: string; email: string; replyCode?: number; status?: string; diagnostic: string; permanent: boolean }];
  skipped: [{ editionId: string; newsletterId: string; subscriberId: string; reason: string }];
}

/**
 * Everything a Daybreak process needs, built once from the config: the composition root.
 * Tests build one with their own prefix, clock and transport.
 */
export class Runtime {
  readonly keys: Keys;
  readonly redis: Redis;
  readonly editions: EditionStore;
  readonly subscribers: SubscriberStore;
  private queuesInstance?: DeliveryQueues;
  readonly signer: TokenSigner;
  readonly events = new EventEmitter<DeliveryEvents>();
  private transportInstance?: MailTransport;

  constructor(
    readonly config: LoadedConfig,
    readonly options: { clock?: Clock; logger?: Logger; transport?: MailTransport; redis?: Redis } = {},
  ) {
    this.keys = new Keys(config.redisPrefix);
    this.redis = options.redis ?? createRedis(config.redisUrl, {}, { warn: (d, m) => this.logger.warn(d, m), info: (d, m) => this.logger.info(d, m) });
    this.editions = new EditionStore(this.redis, this.keys);
    this.subscribers = new SubscriberStore(this.redis, this.keys, config.secret);
    this.signer = new TokenSigner(config.secret);
    this.transportInstance = options.transport;
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
      const { DeliveryQueues: Queues } = require('./queues') as typeof import('./queues');
      this.queuesInstance = new Queues(this.redis, this.keys.bull);
    }
    return this.queuesInstance;
  }

  /** Created on first use, so commands that never send never open SMTP connections. */
  get transport(): MailTransport {
    if (!this.transportInstance) this.transportInstance = createTransport(this.config);
    return this.transportInstance;
  }

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
    await this.queuesInstance?.close();
    await this.transportInstance?.close();
    // QUIT, not a hard disconnect: writes already queued (ledger records, metric counts) still land.
    if (!this.options.redis) await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** Owner of the cluster-wide delivery counters in Redis: messages by outcome, and the send-latency histogram. */
import type Redis from 'ioredis';
import type { Keys } from '../core/keys';

/** Send latency buckets (seconds): claim + personalise + SMTP + record. */
export const latencyBuckets: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function latencyBucketIndex(seconds: number): number {
  const i = latencyBuckets.findIndex((le) => seconds <= le);
  return i === -1 ? latencyBuckets.length : i;
}

/**
 * Every sending process adds to the same two hashes, so `/metrics` in any process reports every
 * worker's work: `<newsletter>|<outcome>` -> messages, and `<newsletter>|b<bucket>`, `|sum`,
 * `|count` for the latency histogram.
 */
export class DeliveryMetricsStore {
  constructor(private readonly redis: Redis, private readonly keys: Keys) {}

  /** Adds counts summed in memory, in one round trip. */
  async add(messages: ReadonlyMap<string, number>, latency: ReadonlyMap<string, number>): Promise<void> {
    if (messages.size === 0 && latency.size === 0) return;
    const p = this.redis.pipeline();
    for (const [field, n] of messages) p.hincrby(this.keys.metricsMessages(), field, n);
    for (const [field, n] of latency) {
      if (field.endsWith('|sum')) p.hincrbyfloat(this.keys.metricsLatency(), field, n.toFixed(6));
      else p.hincrby(this.keys.metricsLatency(), field, n);
    }
    await p.exec();
  }

  /** Messages by `<newsletter>|<outcome>`. */
  async messages(): Promise<Record<string, string>> {
    return this.redis.hgetall(this.keys.metricsMessages());
  }

  /** The latency histogram's fields. */
  async latency(): Promise<Record<string, string>> {
    return this.redis.hgetall(this.keys.metricsLatency());
  }
}

import type { Runtime } from './runtime';

/**
 * What send workers record for ops, beside the ledger: cluster-wide message counters and a send
 * latency histogram (HASHes in Redis, so `/metrics` in any process sees every worker's work), and
 * per-edition progress samples from which `status` computes a send rate and an ETA.
 * Writes are fire-and-forget: metrics must never slow or fail a send.
 */

/** Send latency buckets (seconds): claim + personalise + SMTP + record. */
export const latencyBuckets: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** One progress sample per edition per process at most this often. */
const sampleEveryMs = 2000;

const instrumented = new WeakSet<Runtime>();
const flushers = new WeakMap<Runtime, () => Promise<void>>();
/** How long counts may wait in memory before they reach Redis. */
const flushEveryMs = 500;

/** Writes counts still held in memory (workers call it as they close, so none are lost). */
export function flushDeliveryMetrics(runtime: Runtime): Promise<void> {
  return flushers.get(runtime)?.() ?? Promise.resolve();
}

export function latencyBucketIndex(seconds: number): number {
  const i = latencyBuckets.findIndex((le) => seconds <= le);
  return i === -1 ? latencyBuckets.length : i;
}

/** Adds a progress sample (the edition's settled count now) to its rolling window. */
export async function recordProgressSample(runtime: Runtime, editionId: string, at: Date = runtime.clock.now()): Promise<void> {
  await runtime.editions.recordProgress(editionId, at);
}

/** Listens to one runtime's delivery events (once per runtime, however many workers share it). */
export function instrumentDelivery(runtime: Runtime): void {
  if (instrumented.has(runtime)) return;
  instrumented.add(runtime);
  const lastSample = new Map<string, number>();
  let warned = false;
  const onError = (error: unknown) => {
    if (warned) return;
    warned = true;
    runtime.logger.warn({ err: error }, 'could not record delivery metrics; sending is unaffected');
  };
  const sample = (editionId: string) => {
    const now = performance.now();
    if (now - (lastSample.get(editionId) ?? -Infinity) < sampleEveryMs) return;
    lastSample.set(editionId, now);
    if (lastSample.size > 64) lastSample.delete(lastSample.keys().next().value as string);
    recordProgressSample(runtime, editionId).catch(onError);
  };
  // Counters are summed in memory and written in one pipeline at most every flushEveryMs: a Redis
  // round trip per message would cost the send loop more than the send itself (measured).
  const messages = new Map<string, number>();
  const latency = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  const flush = (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (messages.size === 0 && latency.size === 0) return Promise.resolve();
    const p = runtime.redis.pipeline();
    for (const [field, n] of messages) p.hincrby(runtime.keys.metricsMessages(), field, n);
    for (const [field, n] of latency) {
      if (field.endsWith('|sum')) p.hincrbyfloat(runtime.keys.metricsLatency(), field, n.toFixed(6));
      else p.hincrby(runtime.keys.metricsLatency(), field, n);
    }
    messages.clear();
    latency.clear();
    return p.exec().then(() => undefined, onError);
  };
  flushers.set(runtime, flush);
  const add = (map: Map<string, number>, field: string, n: number) => map.set(field, (map.get(field) ?? 0) + n);
  const count = (newsletterId: string, outcome: 'sent' | 'failed' | 'skipped', latencySeconds?: number) => {
    add(messages, `${newsletterId}|${outcome}`, 1);
    if (latencySeconds !== undefined) {
      add(latency, `${newsletterId}|b${latencyBucketIndex(latencySeconds)}`, 1);
      add(latency, `${newsletterId}|sum`, latencySeconds);
      add(latency, `${newsletterId}|count`, 1);
    }
    if (!timer) timer = setTimeout(() => void flush(), flushEveryMs).unref();
  };
  runtime.events.on('sent', (e) => {
    count(e.newsletterId, 'sent', e.ms / 1000);
    sample(e.editionId);
  });
  runtime.events.on('failed', (e) => {
    count(e.newsletterId, 'failed');
    sample(e.editionId);
  });
  runtime.events.on('skipped', (e) => {
    count(e.newsletterId, 'skipped');
    sample(e.editionId);
  });
}

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
/** Samples older than this are dropped; the rate window is shorter (see status.ts). */
const keepSamplesMs = 10 * 60_000;

const instrumented = new WeakSet<Runtime>();

export function latencyBucketIndex(seconds: number): number {
  const i = latencyBuckets.findIndex((le) => seconds <= le);
  return i === -1 ? latencyBuckets.length : i;
}

/** Adds a progress sample (the edition's settled count now) to its rolling window. */
export async function recordProgressSample(runtime: Runtime, editionId: string, at: Date = runtime.clock.now()): Promise<void> {
  const [sent, failed, skipped] = await runtime.redis.hmget(runtime.keys.edition(editionId), 'sent', 'failed', 'skipped');
  const settled = Number(sent ?? 0) + Number(failed ?? 0) + Number(skipped ?? 0);
  const key = runtime.keys.editionProgress(editionId);
  const ms = at.getTime();
  await runtime.redis.multi().zadd(key, ms, `${ms}:${settled}`).zremrangebyscore(key, '-inf', ms - keepSamplesMs).pexpire(key, 2 * 24 * 3_600_000).exec();
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
  const count = (newsletterId: string, outcome: 'sent' | 'failed' | 'skipped', latencySeconds?: number) => {
    const p = runtime.redis.pipeline().hincrby(runtime.keys.metricsMessages(), `${newsletterId}|${outcome}`, 1);
    if (latencySeconds !== undefined) {
      const key = runtime.keys.metricsLatency();
      p.hincrby(key, `${newsletterId}|b${latencyBucketIndex(latencySeconds)}`, 1).hincrbyfloat(key, `${newsletterId}|sum`, latencySeconds.toFixed(6)).hincrby(key, `${newsletterId}|count`, 1);
    }
    p.exec().catch(onError);
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

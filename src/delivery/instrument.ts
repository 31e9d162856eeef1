/** What send workers record for ops: message counters, send latency and progress samples, off the hot path. */
import { latencyBucketIndex } from './metrics-store';
import type { Clock } from '../core/clock';
import type { Logger } from '../core/logger';
import type { EditionStore } from './edition-store';
import type { DeliveryMetricsStore } from './metrics-store';
import type { SendOutcomes } from './outcomes';

export interface InstrumentDeps {
  editions: Pick<EditionStore, 'recordProgress'>;
  metrics: Pick<DeliveryMetricsStore, 'add'>;
  outcomes: Pick<SendOutcomes, 'subscribe'>;
  clock: Clock;
  logger: Logger;
}

/**
 * What send workers record for ops, beside the ledger: cluster-wide message counters and a send
 * latency histogram (HASHes in Redis, so `/metrics` in any process sees every worker's work), and
 * per-edition progress samples from which `status` computes a send rate and an ETA.
 * Writes are fire-and-forget: metrics must never slow or fail a send.
 */

/** One progress sample per edition per process at most this often. */
const sampleEveryMs = 2000;

const instrumented = new WeakSet<InstrumentDeps>();
const flushers = new WeakMap<InstrumentDeps, () => Promise<void>>();
/** How long counts may wait in memory before they reach Redis. */
const flushEveryMs = 500;

/** Writes counts still held in memory (workers call it as they close, so none are lost). */
export function flushDeliveryMetrics(deps: InstrumentDeps): Promise<void> {
  return flushers.get(deps)?.() ?? Promise.resolve();
}

/** Adds a progress sample (the edition's settled count now) to its rolling window. */
export async function recordProgressSample(deps: InstrumentDeps, editionId: string, at: Date = deps.clock.now()): Promise<void> {
  await deps.editions.recordProgress(editionId, at);
}

/** Listens to one deps's delivery events (once per deps, however many workers share it). */
export function instrumentDelivery(deps: InstrumentDeps): void {
  if (instrumented.has(deps)) return;
  instrumented.add(deps);
  const lastSample = new Map<string, number>();
  let warned = false;
  const onError = (error: unknown) => {
    if (warned) return;
    warned = true;
    deps.logger.warn({ err: error }, 'could not record delivery metrics; sending is unaffected');
  };
  const sample = (editionId: string) => {
    const now = performance.now();
    if (now - (lastSample.get(editionId) ?? -Infinity) < sampleEveryMs) return;
    lastSample.set(editionId, now);
    if (lastSample.size > 64) lastSample.delete(lastSample.keys().next().value as string);
    recordProgressSample(deps, editionId).catch(onError);
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
    const written = deps.metrics.add(new Map(messages), new Map(latency));
    messages.clear();
    latency.clear();
    return written.catch(onError);
  };
  flushers.set(deps, flush);
  const add = (map: Map<string, number>, field: string, n: number) => map.set(field, (map.get(field) ?? 0) + n);
  const count = (newsletterId: string, outcome: 'sent' | 'failed' | 'skipped', latencySeconds?: number, n = 1) => {
    add(messages, `${newsletterId}|${outcome}`, n);
    if (latencySeconds !== undefined) {
      add(latency, `${newsletterId}|b${latencyBucketIndex(latencySeconds)}`, 1);
      add(latency, `${newsletterId}|sum`, latencySeconds);
      add(latency, `${newsletterId}|count`, 1);
    }
    if (!timer) timer = setTimeout(() => void flush(), flushEveryMs).unref();
  };
  deps.outcomes.subscribe('sent', (e) => {
    count(e.newsletterId, 'sent', e.ms / 1000);
    sample(e.editionId);
  });
  deps.outcomes.subscribe('failed', (e) => {
    count(e.newsletterId, 'failed');
    sample(e.editionId);
  });
  deps.outcomes.subscribe('cut-off', (e) => {
    count(e.newsletterId, 'failed', undefined, e.readers);
    sample(e.editionId);
  });
  deps.outcomes.subscribe('skipped', (e) => {
    count(e.newsletterId, 'skipped');
    sample(e.editionId);
  });
}

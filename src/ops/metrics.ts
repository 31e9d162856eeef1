/** Prometheus metrics for the whole install, computed at scrape time from Redis and the queues. */
import { collectDefaultMetrics, Counter, Gauge, Registry, type Histogram } from 'prom-client';
import { finalStates, pendingCount, type Edition } from '../delivery/edition';
import { latencyBuckets } from '../delivery/metrics-store';
import { editionQueueName } from '../delivery/queues';
import { providerPaces, type ProviderPaceDeps } from './provider-pace';
import { recentRate, settledCount } from '../ops/status';
import type { LoadedConfig } from '../config/load';
import type { Clock } from '../core/clock';
import type { EditionStore } from '../delivery/edition-store';
import type { DeliveryMetricsStore } from '../delivery/metrics-store';
import type { DeliveryQueues } from '../delivery/queues';
import type { ClickStore } from './click-store';
import type { TransportBreakerStore } from '../delivery/transport-breaker';

export interface MetricsDeps extends ProviderPaceDeps {
  transportBreaker: Pick<TransportBreakerStore, 'get'>;
  editions: Pick<EditionStore, 'list' | 'sumOf' | 'oldestProgressSince'>;
  metrics: Pick<DeliveryMetricsStore, 'messages' | 'latency'>;
  queues: Pick<DeliveryQueues, 'editions' | 'sendQueues'>;
  clicks: Pick<ClickStore, 'totals'>;
  clock: Clock;
  config: Pick<LoadedConfig, 'newsletters' | 'pacing'>;
}

/**
 * Prometheus metrics for the whole install, computed when scraped, so any one process serving
 * `/metrics` reports every worker's work:
 * - message counters and the send-latency histogram live in Redis hashes that every sending
 *   process adds to (see instrument.ts), so they are cluster-wide and survive restarts;
 * - skips, bounces and complaints are the sums of the editions' counts (skips are settled inside
 *   the fan-out's Lua; bounces and complaints are written by the bounce handling);
 * - queue depth and per-edition gauges are read from BullMQ and the edition hashes at scrape time.
 * Only the `daybreak_web_*` process metrics (CPU, memory, event loop) are about this process alone.
 */

/** Editions given their own gauge series: the newest of each newsletter plus any still running. */
const recentEditionsPerNewsletter = 5;


async function editionsForGauges(deps: MetricsDeps, newsletterId: string): Promise<Edition[]> {
  const recent = await deps.editions.list(newsletterId, recentEditionsPerNewsletter);
  return recent.filter((e, i) => i === 0 || !finalStates.has(e.state));
}

export function createMetricsRegistry(deps: MetricsDeps, options: { processMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  const newsletters = () => deps.config.newsletters.map((n) => n.id);
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'daybreak_web_' });

  const messageCounter = (outcome: 'sent' | 'failed', help: string) =>
    new Counter({
      name: `daybreak_messages_${outcome}_total`,
      help,
      labelNames: ['newsletter'],
      registers: [registry],
      async collect() {
        const values = await deps.metrics.messages();
        this.reset();
        for (const id of newsletters()) this.inc({ newsletter: id }, Number(values[`${id}|${outcome}`] ?? 0));
      },
    });
  messageCounter('sent', 'Messages accepted by the SMTP server (or written to the outbox), by newsletter; all worker processes.');
  messageCounter('failed', 'Messages that failed for good (permanent SMTP refusal or retries used up), by newsletter; all worker processes.');

  // Skips happen at fan-out (inside a Lua script, no event) as well as at send time, so they are
  // summed from the editions' own counts, like bounces and complaints.
  const editionSum = (field: 'bounced' | 'complaints' | 'skipped', name: string, help: string) =>
    new Counter({
      name,
      help,
      labelNames: ['newsletter'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const id of newsletters()) this.inc({ newsletter: id }, await deps.editions.sumOf(id, field));
      },
    });
  editionSum('skipped', 'daybreak_messages_skipped_total', 'Messages not sent because the reader was suppressed, unsubscribed or unconfirmed (at fan-out or at send time), by newsletter.');
  editionSum('bounced', 'daybreak_messages_bounced_total', 'Bounces attributed to editions (SMTP 5xx at send, DSNs, ESP webhooks), by newsletter.');
  editionSum('complaints', 'daybreak_complaints_total', 'Spam complaints attributed to editions, by newsletter.');

  // Story clicks, from the click store's cluster-wide totals (aggregate: no reader, no edition
  // label). Two counters that only ever grow: readers' clicks are the difference, which a burst
  // recognised late can lower, so it cannot be a counter itself.
  const clickCounter = (name: string, field: 'n' | 'a', help: string) =>
    new Counter({
      name,
      help,
      labelNames: ['newsletter'],
      registers: [registry],
      async collect() {
        const totals = await deps.clicks.totals();
        this.reset();
        for (const id of newsletters()) this.inc({ newsletter: id }, Math.max(0, Number(totals[`${id}|${field}`] ?? 0)));
      },
    });
  clickCounter('daybreak_clicks_total', 'n', 'Story links followed (every click counted, readers and automated), by newsletter. Readers: daybreak_clicks_total - daybreak_clicks_automated_total.');
  clickCounter('daybreak_clicks_automated_total', 'a', 'Story links followed by machines: link scanners, previews, HEAD requests and bursts that follow most links of an edition at once, by newsletter.');

  // A histogram whose buckets are kept in Redis by every sender: prom-client's Histogram can only
  // observe values in this process, so this one reports its own values (same exposition format).
  const latencyName = 'daybreak_send_latency_seconds';
  const latencyHelp = 'Time to send one message (claim, personalise, SMTP, record), by newsletter; all worker processes.';
  const latency = {
    name: latencyName,
    help: latencyHelp,
    type: 'histogram',
    aggregator: 'sum',
    reset: () => undefined,
    get: async () => {
      const h = await deps.metrics.latency();
      const values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> = [];
      for (const id of newsletters()) {
        let cumulative = 0;
        latencyBuckets.forEach((le, i) => {
          cumulative += Number(h[`${id}|b${i}`] ?? 0);
          values.push({ metricName: `${latencyName}_bucket`, labels: { newsletter: id, le }, value: cumulative });
        });
        cumulative += Number(h[`${id}|b${latencyBuckets.length}`] ?? 0);
        values.push({ metricName: `${latencyName}_bucket`, labels: { newsletter: id, le: '+Inf' }, value: cumulative });
        values.push({ metricName: `${latencyName}_sum`, labels: { newsletter: id }, value: Number(h[`${id}|sum`] ?? 0) });
        values.push({ metricName: `${latencyName}_count`, labels: { newsletter: id }, value: Number(h[`${id}|count`] ?? 0) });
      }
      return { name: latencyName, help: latencyHelp, type: 'histogram', aggregator: 'sum', values };
    },
  };
  // registerMetric is typed for prom-client's own classes; the registry only calls name, type and get().
  registry.registerMetric(latency as unknown as Histogram);

  new Gauge({
    name: 'daybreak_queue_jobs',
    help: 'Jobs in each BullMQ queue by state (waiting includes a paused queue\'s jobs).',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      const queues = [{ name: editionQueueName, queue: deps.queues.editions }, ...newsletters().flatMap((id) => deps.queues.sendQueues(id).map((queue) => ({ name: queue.name, queue })))];
      for (const { name, queue } of queues) {
        const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized', 'completed');
        for (const [state, n] of Object.entries(counts)) this.set({ queue: name, state }, n);
      }
    },
  });
  new Gauge({
    name: 'daybreak_queue_workers',
    help: 'Workers connected to each queue (all processes).',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      this.reset();
      this.set({ queue: editionQueueName }, await deps.queues.editions.getWorkersCount());
      for (const id of newsletters()) for (const queue of deps.queues.sendQueues(id)) this.set({ queue: queue.name }, await queue.getWorkersCount());
    },
  });
  new Gauge({
    name: 'daybreak_queue_paused',
    help: '1 when a send queue is paused (an edition of that newsletter is paused).',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const id of newsletters()) for (const queue of deps.queues.sendQueues(id)) this.set({ queue: queue.name }, (await queue.isPaused()) ? 1 : 0);
    },
  });

  // Pacing per mailbox provider: one read of every group's state and counts serves all three.
  if (deps.config.pacing.enabled) {
    let paceRead: ReturnType<typeof providerPaces> | undefined;
    const paces = () => {
      paceRead ??= providerPaces(deps).finally(() => setImmediate(() => { paceRead = undefined; }));
      return paceRead;
    };
    new Counter({
      name: 'daybreak_provider_messages_total',
      help: 'Messages per mailbox provider group: accepted (outcome="sent") and deferred with a reply asking us to slow down (outcome="deferred"); all worker processes.',
      labelNames: ['group', 'outcome'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const p of await paces()) {
          this.inc({ group: p.group, outcome: 'sent' }, p.sent);
          this.inc({ group: p.group, outcome: 'deferred' }, p.deferred);
        }
      },
    });
    new Gauge({
      name: 'daybreak_provider_pace',
      help: 'Messages per second a provider group is sent at now, shared by every newsletter and worker (below its configured pace while it defers; 0 while paused). Groups with no limit are left out.',
      labelNames: ['group'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const p of await paces()) if (p.pace !== undefined) this.set({ group: p.group }, p.pace);
      },
    });
    new Gauge({
      name: 'daybreak_provider_paused',
      help: '1 while a provider group is paused: it kept deferring until a send window closed, and nothing is sent to it.',
      labelNames: ['group'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const p of await paces()) this.set({ group: p.group }, p.pausedUntil ? 1 : 0);
      },
    });
  }

  // The mail relay's circuit breaker (shared by every worker): open while sending is paused.
  let breakerRead: ReturnType<TransportBreakerStore['get']> | undefined;
  const breakerState = () => {
    breakerRead ??= deps.transportBreaker.get().finally(() => setImmediate(() => { breakerRead = undefined; }));
    return breakerRead;
  };
  new Gauge({
    name: 'daybreak_transport_breaker_open',
    help: '1 while the mail relay is unreachable and every worker has paused sending (the transport circuit breaker is open).',
    registers: [registry],
    async collect() {
      this.set((await breakerState()).open ? 1 : 0);
    },
  });
  new Gauge({
    name: 'daybreak_transport_unreachable_seconds',
    help: 'How long the mail relay has been unreachable (0 while it answers).',
    registers: [registry],
    async collect() {
      const state = await breakerState();
      this.set(state.open && state.since ? Math.max(0, (deps.clock.now().getTime() - state.since.getTime()) / 1000) : 0);
    },
  });

  // Per-edition gauges: one scrape reads each newsletter's recent editions once and fills all four.
  let editionSnapshot: Promise<Array<{ e: Edition; rate?: number }>> | undefined;
  const snapshot = () => {
    editionSnapshot ??= (async () => {
      const now = deps.clock.now();
      const out: Array<{ e: Edition; rate?: number }> = [];
      for (const id of newsletters()) {
        for (const e of await editionsForGauges(deps, id)) {
          const rate = e.state === 'sending' ? (await recentRate(deps, e.id, settledCount(e), now))?.perSecond : undefined;
          out.push({ e, rate });
        }
      }
      // Cleared after this scrape's collectors have all run (they start in the same tick).
      setImmediate(() => { editionSnapshot = undefined; });
      return out;
    })();
    return editionSnapshot;
  };
  new Gauge({
    name: 'daybreak_edition_messages',
    help: "An edition's messages by status (total, sent, failed, skipped, pending, bounced, complaints): newest edition of each newsletter and any still running.",
    labelNames: ['newsletter', 'edition', 'status'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const { e } of await snapshot()) {
        const counts = { total: e.total, sent: e.sent, failed: e.failed, skipped: e.skipped, pending: pendingCount(e), bounced: e.bounced, complaints: e.complaints };
        for (const [status, n] of Object.entries(counts)) this.set({ newsletter: e.newsletterId, edition: e.id, status }, n);
      }
    },
  });
  new Gauge({
    name: 'daybreak_edition_state',
    help: '1 for the state an edition is in (created, building, sending, paused, done, skipped, held, cancelled, failed).',
    labelNames: ['newsletter', 'edition', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const { e } of await snapshot()) this.set({ newsletter: e.newsletterId, edition: e.id, state: e.state }, 1);
    },
  });
  new Gauge({
    name: 'daybreak_edition_duration_seconds',
    help: 'How long an edition took from build to its last message (so far, while it runs).',
    labelNames: ['newsletter', 'edition'],
    registers: [registry],
    async collect() {
      this.reset();
      const now = deps.clock.now().getTime();
      for (const { e } of await snapshot()) {
        if (!e.startedAt) continue;
        const end = e.finishedAt?.getTime() ?? (finalStates.has(e.state) ? undefined : now);
        if (end !== undefined) this.set({ newsletter: e.newsletterId, edition: e.id }, Math.max(0, end - e.startedAt.getTime()) / 1000);
      }
    },
  });
  new Gauge({
    name: 'daybreak_edition_send_rate',
    help: 'Messages settled per second over the last minute, for editions that are sending.',
    labelNames: ['newsletter', 'edition'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const { e, rate } of await snapshot()) if (rate !== undefined) this.set({ newsletter: e.newsletterId, edition: e.id }, rate);
    },
  });
  new Gauge({
    name: 'daybreak_editions_awaiting_approval',
    help: "Editions waiting for the editors' say (approval veto or required), by newsletter; overdue=\"true\": past their slot and not sent (held, or not approved).",
    labelNames: ['newsletter', 'overdue'],
    registers: [registry],
    async collect() {
      this.reset();
      const now = deps.clock.now();
      for (const n of deps.config.newsletters) {
        if (n.approval === 'none') continue;
        const waiting = (await deps.editions.list(n.id, 10)).filter((e) => e.state === 'awaiting-approval');
        const overdue = waiting.filter((e) => e.scheduledFor <= now).length;
        this.set({ newsletter: n.id, overdue: 'true' }, overdue);
        this.set({ newsletter: n.id, overdue: 'false' }, waiting.length - overdue);
      }
    },
  });
  return registry;
}

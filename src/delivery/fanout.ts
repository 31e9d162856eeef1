/** The fan-out: pages through a newsletter's members and queues one small send job per reader, resumably. */
import { sendJobId, sendJobRetries, type SendJobData } from './queues';
import { retryWindowMs } from './send-window';
import type { DeliveryConfig, NewsletterConfig } from '../config/schema';
import type { Edition } from './edition';
import { dueWaves, isWaveStale, type Wave } from './waves';
import type { Clock } from '../core/clock';
import type { Logger } from '../core/logger';
import type { SubscriberStore } from '../subscribers/store';
import type { EditionStore, WaveReaders } from './edition-store';
import type { ProviderDirectory } from './provider-directory';
import type { DeliveryQueues } from './queues';

export interface FanoutDeps {
  editions: Pick<EditionStore, 'get' | 'fanoutPage' | 'saveFanoutCursor' | 'fanoutDone' | 'waves' | 'saveWaveCursor' | 'settleWave'>;
  subscribers: Pick<SubscriberStore, 'pageMembers' | 'pageZoneMembers'>;
  queues: Pick<DeliveryQueues, 'send' | 'editions'>;
  /** Which provider group (and so which send queue) each reader's domain goes to. */
  providers: Pick<ProviderDirectory, 'groupsOf'>;
  clock: Clock;
  logger: Logger;
  newsletter(id: string): NewsletterConfig;
  config: { delivery: Pick<DeliveryConfig, 'fanoutPageSize' | 'backoffMs' | 'retryBackoffMaxMs' | 'retryWindowHours' | 'buildAttempts' | 'buildRetryDelayMs'> };
}

export interface FanoutResult {
  pages: number;
  queued: number;
  ms: number;
}

/** Where a fan-out's pages come from and where its cursor is kept: the whole list, or one wave. */
interface FanoutSource {
  cursor: number;
  page(afterId: number, limit: number): Promise<string[]>;
  saveCursor(cursor: number): Promise<void>;
  wave?: { zone: string; readers: WaveReaders };
  /** A forced wave goes late on purpose: its sends get a window of their own from now, as a resend's do. */
  closesAt?: number;
}

/**
 * Streams the newsletter's confirmed members in pages (never the whole list in memory), settles
 * the suppressed ones at once, and bulk-adds one small send job per remaining reader, to the
 * newsletter's queue for the reader's mailbox provider. Resumable: the cursor is saved per page,
 * and both the ledger and the job ids make a repeat add nothing. An edition delivered in readers'
 * zones fans out each wave whose time has come (one that could not start within its send window
 * is held); the others wait for theirs.
 */
export async function fanOut(deps: FanoutDeps, editionId: string): Promise<FanoutResult> {
  const started = performance.now();
  const edition = await deps.editions.get(editionId);
  if (!edition) throw new Error(`Edition ${editionId} does not exist`);
  if (edition.fanoutDone) return { pages: 0, queued: 0, ms: 0 };
  const waves = await deps.editions.waves(editionId);
  if (waves) return fanOutDueWaves(deps, edition, waves);
  const log = deps.logger.child({ editionId });
  const { pages, queued } = await queuePages(deps, edition, {
    cursor: edition.fanoutCursor,
    page: (after, limit) => deps.subscribers.pageMembers(edition.newsletterId, after, limit),
    saveCursor: (cursor) => deps.editions.saveFanoutCursor(editionId, cursor),
  });
  const ms = performance.now() - started;
  const finished = await deps.editions.fanoutDone(editionId, deps.clock.now(), { detail: { queued, pages, ms: Math.round(ms) }, ms });
  log.info({ queued, pages, ms: Math.round(ms), finished }, 'fan-out complete');
  return { pages, queued, ms };
}

/**
 * The waves whose time has come, earliest first: each fanned out (its zone's readers, or for the
 * newsletter's own zone everyone whose zone has no wave), or held when a scheduled edition's wave
 * could not start within its send window (ops force it: `run-edition --force`).
 */
async function fanOutDueWaves(deps: FanoutDeps, edition: Edition, waves: Wave[]): Promise<FanoutResult> {
  const started = performance.now();
  const newsletter = deps.newsletter(edition.newsletterId);
  const log = deps.logger.child({ editionId: edition.id });
  const ownZones = waves.filter((w) => !w.isDefault).map((w) => w.zone);
  let pages = 0;
  let queued = 0;
  for (const wave of dueWaves(waves, deps.clock.now())) {
    const now = deps.clock.now();
    if (edition.trigger === 'schedule' && !edition.forced && isWaveStale(wave, now, newsletter.sendWindowHours)) {
      const reason = `not started within ${newsletter.sendWindowHours} h of its ${wave.due.toISOString()} slot (the schedule's time in ${wave.zone}); held for ops (\`daybreak run-edition ${newsletter.id} --date ${edition.localDate} --force\` sends it)`;
      await deps.editions.settleWave(edition.id, wave.zone, 'held', now, { reason });
      log.warn({ zone: wave.zone, due: wave.due.toISOString() }, `wave held: ${reason}`);
      continue;
    }
    const waveStarted = performance.now();
    const done = await queuePages(deps, edition, {
      cursor: wave.cursor,
      page: (after, limit) => (wave.isDefault ? deps.subscribers.pageMembers(edition.newsletterId, after, limit) : deps.subscribers.pageZoneMembers(edition.newsletterId, wave.zone, after, limit)),
      saveCursor: (cursor) => deps.editions.saveWaveCursor(edition.id, wave.zone, cursor),
      wave: { zone: wave.zone, readers: wave.isDefault ? { except: ownZones } : { only: wave.zone } },
      closesAt: wave.forced ? now.getTime() + retryWindowMs(deps.config.delivery, newsletter) : undefined,
    });
    pages += done.pages;
    queued += done.queued;
    const ms = Math.round(performance.now() - waveStarted);
    const { finished } = await deps.editions.settleWave(edition.id, wave.zone, 'out', deps.clock.now(), { queued: done.queued, pages: done.pages, ms });
    log.info({ zone: wave.zone, due: wave.due.toISOString(), queued: done.queued, ms, finished }, 'wave fanned out');
  }
  // The next wave comes back to a worker at its time (the scheduler's minute tick is the backstop).
  const now = deps.clock.now();
  const next = waves.find((w) => w.state === 'waiting' && w.due > now);
  if (next) {
    await deps.queues.editions.add('build', { editionId: edition.id }, {
      jobId: `wave-${edition.id}-${next.due.getTime()}`,
      delay: next.due.getTime() - now.getTime(),
      attempts: deps.config.delivery.buildAttempts,
      backoff: { type: 'fixed', delay: deps.config.delivery.buildRetryDelayMs },
      removeOnComplete: true,
      removeOnFail: true,
    });
  }
  return { pages, queued, ms: performance.now() - started };
}

/** Pages through a source, queueing each page's readers on their provider group's queue; saves the cursor per page. */
async function queuePages(deps: FanoutDeps, edition: Edition, source: FanoutSource): Promise<{ pages: number; queued: number }> {
  const { fanoutPageSize: pageSize } = deps.config.delivery;
  const editionId = edition.id;
  let cursor = source.cursor;
  let pages = 0;
  let queued = 0;
  const jobOptions = {
    // Retried until the edition's send window closes, not a fixed number of times.
    ...sendJobRetries(deps.config.delivery, retryWindowMs(deps.config.delivery, deps.newsletter(edition.newsletterId))),
    // The ledger, not the finished job, remembers who was sent: completed jobs can go at once.
    removeOnComplete: true,
    removeOnFail: { age: 7 * 24 * 3600 },
  };
  const wave = source.wave?.zone;
  // Read the next page while the current one is being added: Redis and BullMQ overlap.
  let nextPage = source.page(cursor, pageSize);
  for (;;) {
    const ids = await nextPage;
    if (ids.length === 0) break;
    cursor = Number(ids[ids.length - 1]);
    nextPage = source.page(cursor, pageSize);
    const toQueue = await deps.editions.fanoutPage(edition, ids, deps.clock.now(), source.wave);
    if (toQueue.length) {
      const groups = await deps.providers.groupsOf(editionId, toQueue.map((r) => r.domain));
      const byGroup = new Map<string, string[]>();
      for (const r of toQueue) {
        const group = groups.get(r.domain) as string;
        const list = byGroup.get(group) ?? [];
        list.push(r.id);
        byGroup.set(group, list);
      }
      await Promise.all([...byGroup].map(([group, readers]) => deps.queues.send(edition.newsletterId, group).addBulk(
        readers.map((s) => ({ name: 'send', data: { e: editionId, s, ...(wave ? { w: wave } : {}), ...(source.closesAt ? { u: source.closesAt } : {}) } satisfies SendJobData, opts: { ...jobOptions, jobId: sendJobId(editionId, s) } })),
      )));
    }
    await source.saveCursor(cursor);
    pages += 1;
    queued += toQueue.length;
  }
  return { pages, queued };
}

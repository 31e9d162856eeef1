/** `run-edition`'s use case: build and send one day's edition now and wait for it, with workers of its own if needed. */
import type { Worker } from 'bullmq';
import type { LoadedConfig } from '../config/load';
import { watchRedisOutage } from '../core/redis-outage';
import { createEditionWorker, createSendWorkers } from '../delivery/workers';
import { editionIdFor, pendingCount, type Edition } from '../delivery/edition';
import { dueWaves } from '../delivery/waves';
import { enqueueEdition } from '../delivery/enqueue';
import { waitForEdition } from '../ops/watch';
import type { EnqueueDeps } from '../delivery/enqueue';
import type { WorkerDeps } from '../delivery/workers';
import type { WatchDeps } from './watch';
import type { DeliveryQueues } from '../delivery/queues';

export type RunNowDeps = WorkerDeps & EnqueueDeps & WatchDeps & {
  queues: Pick<DeliveryQueues, 'editions' | 'send'>;
  config: Pick<LoadedConfig, 'redisUrl' | 'delivery'>;
};

/** How often a run that relies on other processes' workers checks they are still there. */
const workersCheckMs = 2000;

export interface RunNowResult {
  edition: Edition;
  /** The edition was already finished before this run: nothing was sent. */
  alreadyFinished: boolean;
  /** No workers were running, so this process brought its own. */
  broughtWorkers: boolean;
  ms: number;
}

const awaitingApproval: ReadonlySet<Edition['state']> = new Set(['awaiting-approval']);

/** Are workers for this newsletter's queues connected to Redis right now (any process)? */
export async function workersRunning(deps: RunNowDeps, newsletterId: string): Promise<boolean> {
  const [builders, senders] = await Promise.all([deps.queues.editions.getWorkersCount(), deps.queues.send(newsletterId).getWorkersCount()]);
  return builders > 0 && senders > 0;
}

/**
 * Builds and sends one day's edition now and waits for it to finish, bringing workers into this
 * process when none are running. A finished edition is left alone: running twice sends nothing new.
 */
export async function runEditionNow(
  deps: RunNowDeps,
  request: { newsletterId: string; localDate: string; force?: boolean; concurrency?: number; onProgress?: (e: Edition) => void },
): Promise<RunNowResult> {
  const started = performance.now();
  const existing = await deps.editions.get(editionIdFor(request.newsletterId, request.localDate));
  if (existing && (existing.state === 'done' || existing.state === 'skipped' || existing.state === 'cancelled')) {
    return { edition: existing, alreadyFinished: true, broughtWorkers: false, ms: 0 };
  }
  const workers: Worker[] = [];
  let broughtWorkers = false;
  const bringWorkers = () => {
    if (broughtWorkers) return;
    broughtWorkers = true;
    workers.push(createEditionWorker(deps), ...createSendWorkers(deps, { newsletters: [request.newsletterId], concurrency: request.concurrency }));
  };
  if (!(await workersRunning(deps, request.newsletterId))) bringWorkers();
  // Workers found running may belong to another command that ends first (a resend, another
  // run-edition): while waiting, check they are still there, and bring our own when they are not.
  let lastCheck = Date.now();
  let checking = false;
  const checkWorkers = () => {
    if (broughtWorkers || checking || Date.now() - lastCheck < workersCheckMs) return;
    checking = true;
    lastCheck = Date.now();
    workersRunning(deps, request.newsletterId)
      .then((running) => { if (!running) bringWorkers(); })
      .catch(() => undefined)
      .finally(() => { checking = false; });
  };
  const editionId = editionIdFor(request.newsletterId, request.localDate);
  // A Redis outage is waited out up to a bound, then the command ends (exit 3) instead of hanging.
  const outage = watchRedisOutage(deps.redis, {
    limitMs: deps.config.delivery.redisOutageLimitSeconds * 1000,
    url: deps.config.redisUrl,
    what: `The edition carries on once Redis is back and a worker runs (\`daybreak status ${editionId}\`).`,
  });
  let gaveUp = false;
  try {
    const run = async () => {
      const { edition } = await enqueueEdition(deps, { newsletterId: request.newsletterId, localDate: request.localDate, trigger: 'manual', force: request.force });
      // An edition under the editors' say stops at awaiting-approval: they decide (or ops force it).
      // Sent in waves: done for now once every wave whose time has come is out and settled; the
      // later ones go at their time (a running worker, or the scheduler, starts each).
      const wavesSettledForNow = async (e: Edition) => {
        if (e.state !== 'sending' || pendingCount(e) > 0) return false;
        const waves = await deps.editions.waves(e.id);
        return Boolean(waves?.some((w) => w.state === 'waiting') && dueWaves(waves, deps.clock.now()).length === 0);
      };
      let waited = await waitForEdition(deps, edition.id, { onProgress: (e) => { checkWorkers(); request.onProgress?.(e); }, stopAt: awaitingApproval, stopWhen: wavesSettledForNow });
      if (waited.state === 'awaiting-approval' && request.force) {
        await enqueueEdition(deps, { newsletterId: request.newsletterId, localDate: request.localDate, trigger: 'manual', force: true });
        waited = await waitForEdition(deps, edition.id, { onProgress: (e) => { checkWorkers(); request.onProgress?.(e); }, stopAt: awaitingApproval, stopWhen: wavesSettledForNow });
      }
      return waited;
    };
    const running = run();
    // Should Redis stay away, the wait is left behind (the command ends): no unhandled rejection from it.
    running.catch(() => undefined);
    const finished = await Promise.race([running, outage.expired]);
    if (workers.length === 0) return { edition: finished, alreadyFinished: false, broughtWorkers, ms: performance.now() - started };
    // The settle that finishes an edition comes before what hears of it (a refusal's bounce is
    // counted just after): our own workers finish their jobs before the counts are read.
    await Promise.all(workers.map((w) => w.close()));
    const settled = (await deps.editions.get(finished.id)) ?? finished;
    return { edition: settled, alreadyFinished: false, broughtWorkers, ms: performance.now() - started };
  } catch (error) {
    gaveUp = deps.redis.status !== 'ready';
    throw error;
  } finally {
    outage.stop();
    // Redis gone: do not wait for jobs that cannot be recorded (they are taken over later).
    const closing = Promise.all(workers.map((w) => w.close(gaveUp)));
    await (gaveUp ? Promise.race([closing.catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]) : closing);
  }
}

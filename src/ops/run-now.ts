/** Builds and sends a day's edition now and waits for it, bringing workers when none run. */
import type { Worker } from 'bullmq';
import { createEditionWorker, createSendWorkers } from '../delivery/workers';
import { editionIdFor, type Edition } from '../delivery/edition';
import { enqueueEdition } from '../delivery/enqueue';
import { waitForEdition } from '../ops/watch';
import type { EnqueueDeps } from '../delivery/enqueue';
import type { WorkerDeps } from '../delivery/workers';
import type { WatchDeps } from './watch';
import type { DeliveryQueues } from '../delivery/queues';

export type RunNowDeps = WorkerDeps & EnqueueDeps & WatchDeps & {
  queues: Pick<DeliveryQueues, 'editions' | 'send'>;
};

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
  const broughtWorkers = !(await workersRunning(deps, request.newsletterId));
  if (broughtWorkers) {
    workers.push(createEditionWorker(deps), ...createSendWorkers(deps, { newsletters: [request.newsletterId], concurrency: request.concurrency }));
  }
  try {
    const { edition } = await enqueueEdition(deps, { newsletterId: request.newsletterId, localDate: request.localDate, trigger: 'manual', force: request.force });
    // An edition under the editors' say stops at awaiting-approval: they decide (or ops force it).
    let finished = await waitForEdition(deps, edition.id, { onProgress: request.onProgress, stopAt: awaitingApproval });
    if (finished.state === 'awaiting-approval' && request.force) {
      await enqueueEdition(deps, { newsletterId: request.newsletterId, localDate: request.localDate, trigger: 'manual', force: true });
      finished = await waitForEdition(deps, edition.id, { onProgress: request.onProgress, stopAt: awaitingApproval });
    }
    return { edition: finished, alreadyFinished: false, broughtWorkers, ms: performance.now() - started };
  } finally {
    await Promise.all(workers.map((w) => w.close()));
  }
}

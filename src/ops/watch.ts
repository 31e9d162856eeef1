/** Waits for an edition to reach a final state, reporting progress as it goes. */
import { finalStates, type Edition } from '../delivery/edition';
import type { EditionStore } from '../delivery/edition-store';

export interface WatchDeps {
  editions: Pick<EditionStore, 'get'>;
}

/** Polls an edition until it reaches a final state (done, skipped, held, cancelled, failed), one of `stopAt`, or `stopWhen` says so. */
export async function waitForEdition(
  deps: WatchDeps,
  editionId: string,
  options: { onProgress?: (edition: Edition) => void; pollMs?: number; timeoutMs?: number; stopAt?: ReadonlySet<Edition['state']>; stopWhen?: (edition: Edition) => Promise<boolean> } = {},
): Promise<Edition> {
  const pollMs = options.pollMs ?? 250;
  const deadline = options.timeoutMs ? Date.now() + options.timeoutMs : Infinity;
  for (;;) {
    const edition = await deps.editions.get(editionId);
    if (!edition) throw new Error(`Edition ${editionId} does not exist`);
    options.onProgress?.(edition);
    if (finalStates.has(edition.state) || options.stopAt?.has(edition.state)) return edition;
    if (options.stopWhen && (await options.stopWhen(edition))) return edition;
    if (Date.now() > deadline) throw new Error(`Edition ${editionId} still ${edition.state} after ${options.timeoutMs} ms (${edition.sent} sent of ${edition.total})`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

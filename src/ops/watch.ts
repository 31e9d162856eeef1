import { finalStates, type Edition } from '../delivery/edition';
import type { Runtime } from '../delivery/runtime';

/** Polls an edition until it reaches a final state (done, skipped, held, cancelled, failed). */
export async function waitForEdition(
  runtime: Runtime,
  editionId: string,
  options: { onProgress?: (edition: Edition) => void; pollMs?: number; timeoutMs?: number } = {},
): Promise<Edition> {
  const pollMs = options.pollMs ?? 250;
  const deadline = options.timeoutMs ? Date.now() + options.timeoutMs : Infinity;
  for (;;) {
    const edition = await runtime.editions.get(editionId);
    if (!edition) throw new Error(`Edition ${editionId} does not exist`);
    options.onProgress?.(edition);
    if (finalStates.has(edition.state)) return edition;
    if (Date.now() > deadline) throw new Error(`Edition ${editionId} still ${edition.state} after ${options.timeoutMs} ms (${edition.sent} sent of ${edition.total})`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

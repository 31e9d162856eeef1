import type { Worker } from 'bullmq';
import { createEditionWorker, createSendWorkers } from '../../src/delivery/workers';
import type { LoadedConfig } from '../../src/config/load';
import { FixedClock } from '../../src/core/clock';
import type { Runtime } from '../../src/app/runtime';
import { newslettersWithFeed, writeTestFeed } from '../helpers/feed';
import { testConfig, testRuntime, uniquePrefix } from '../helpers/runtime';
import { startSmtpSink, type SinkOptions, type SmtpSink } from '../helpers/smtp-sink';

export { bin } from '../helpers/cli';
/** Tuesday 24 November 2026, 06:00 in London: the national edition's slot. */
export const morning = '2026-11-24T06:00:00Z';
export const editionId = 'national-2026-11-24';

export interface OpsFixture {
  sink: SmtpSink;
  runtime: Runtime;
  config: LoadedConfig;
  clock: FixedClock;
  /** Subscriber ids by address. */
  ids: Map<string, string>;
}

/** A real SMTP sink, a test feed, a runtime on its own Redis prefix, and `readers` confirmed readers. */
export async function opsFixture(name: string, options: { readers: number; email?: (i: number) => string; sink?: SinkOptions; delivery?: Record<string, unknown> }): Promise<OpsFixture> {
  const sink = await startSmtpSink(options.sink);
  const feed = writeTestFeed(['2026-11-23', '2026-11-24', '2026-11-25']);
  const config = testConfig(uniquePrefix(name), {
    smtpUrl: sink.url,
    newsletters: newslettersWithFeed(feed),
    delivery: { concurrency: 8, smtpMaxConnections: 3, attempts: 2, backoffMs: 50, fanoutPageSize: 25, lockDurationMs: 2000, stalledIntervalMs: 1000, ...options.delivery },
  });
  const clock = new FixedClock(morning);
  const runtime = testRuntime(config, { clock });
  const ids = new Map<string, string>();
  const email = options.email ?? ((i: number) => `reader-${i}@example.com`);
  for (let i = 1; i <= options.readers; i++) {
    const { subscriber } = await runtime.subscribers.add({ email: email(i), name: `Reader Number${i}`, newsletters: ['national'], confirmed: true, source: 'test' });
    ids.set(subscriber.email, subscriber.id);
  }
  return { sink, runtime, config, clock, ids };
}

/** In-process workers, as `daybreak worker` runs them. */
export function startWorkers(runtime: Runtime, concurrency = 4): Worker[] {
  return [createEditionWorker(runtime), ...createSendWorkers(runtime, { newsletters: ['national'], concurrency })];
}

export async function closeWorkers(workers: Worker[]): Promise<void> {
  await Promise.all(workers.map((w) => w.close()));
}

/** How many copies each address got. */
export function copiesByRecipient(sink: SmtpSink, from = 0): Map<string, number> {
  const copies = new Map<string, number>();
  for (const m of sink.messages.slice(from)) for (const r of m.recipients) copies.set(r, (copies.get(r) ?? 0) + 1);
  return copies;
}

export async function until(check: () => Promise<boolean> | boolean, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export { runCli, type CliRun } from '../helpers/cli';

import { FixedClock } from '../../src/core/clock';
import type { Edition } from '../../src/delivery/edition';
import { bounceReport } from '../../src/bounces/report';
import { runEditionNow, type RunNowResult } from '../../src/ops/run-now';
import { createMetricsRegistry } from '../../src/ops/metrics';
import { editionStatus } from '../../src/ops/status';
import { renderStatus } from '../../src/cli/commands/status';
import type { Runtime } from '../../src/app/runtime';
import { newslettersWithFeed, writeTestFeed } from '../helpers/feed';
import { closeRuntime, testConfig, testRuntime, uniquePrefix } from '../helpers/runtime';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink';

/**
 * The mail relay (a real SMTP sink on loopback) goes down mid-edition and comes back: time is the
 * test's clock, moved on by hand, so "ten minutes" of outage take a few seconds and nothing here
 * depends on how fast the machine is. Retries wait for real (tens of milliseconds, capped).
 */
const readers = 300;
const slot = '2026-11-24T06:00:00Z';
const delivery = {
  concurrency: 20, smtpMaxConnections: 4, backoffMs: 40, retryBackoffMaxMs: 300, fanoutPageSize: 100, lockDurationMs: 30_000, stalledIntervalMs: 30_000,
  transportBreaker: { minFailures: 5, failureRatio: 0.5, probeIntervalMs: 200 },
};

async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 30_000, step?: () => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    step?.();
    await new Promise((r) => setTimeout(r, 50));
  }
}

function copies(sink: SmtpSink): Map<string, number> {
  const byRecipient = new Map<string, number>();
  for (const m of sink.messages) for (const r of m.recipients) byRecipient.set(r, (byRecipient.get(r) ?? 0) + 1);
  return byRecipient;
}

async function setUp(name: string, extra: Record<string, unknown> = {}): Promise<{ sink: SmtpSink; runtime: Runtime; clock: FixedClock }> {
  // Each message takes a moment, so the outage lands mid-edition.
  const sink = await startSmtpSink({ dataDelayMs: 5 });
  const clock = new FixedClock(slot);
  const config = testConfig(uniquePrefix(name), { smtpUrl: sink.url, newsletters: newslettersWithFeed(writeTestFeed(['2026-11-24'])), delivery: { ...delivery, ...extra } });
  const runtime = testRuntime(config, { clock });
  for (let i = 1; i <= readers; i++) await runtime.subscribers.add({ email: `reader-${i}@example.com`, newsletters: ['national'], confirmed: true, source: 'test' });
  return { sink, runtime, clock };
}

/** The relay dies the way a crashed one does, with nothing half-accepted: answers stop, then every connection drops. */
async function relayGoesDown(sink: SmtpSink): Promise<void> {
  sink.hold();
  await new Promise((r) => setTimeout(r, 200));
  await sink.stop();
}

describe('the mail relay down for ten minutes mid-edition', () => {
  let sink: SmtpSink;
  let runtime: Runtime;
  let clock: FixedClock;
  let edition: Edition;
  let run: Promise<RunNowResult>;
  const failedWhileDown: number[] = [];

  beforeAll(async () => {
    ({ sink, runtime, clock } = await setUp('relay-outage'));
  });
  afterAll(async () => {
    await closeRuntime(runtime);
    await sink.close();
  });

  test('sending pauses by itself with nobody failed or charged, and status and /metrics say the relay is unreachable', async () => {
    run = runEditionNow(runtime, { newsletterId: 'national', localDate: '2026-11-24' });
    await sink.waitForCount(60);
    await relayGoesDown(sink);
    await until(async () => (await runtime.transportBreaker.get()).open, 'the transport breaker to open');

    const [current] = await runtime.editions.list('national', 1);
    edition = current as Edition;
    expect(edition.state).toBe('sending');
    expect(edition.failed).toBe(0);
    const status = await editionStatus(runtime, edition.id);
    expect(status.relay?.unreachableSince).toBe(slot.replace('Z', '.000Z'));
    expect(status.relay?.lastError).toMatch(/ECONNREFUSED|connect|closed/i);
    expect(status.etaSeconds).toBeUndefined();
    const text = renderStatus(runtime, status);
    expect(text).toMatch(/Relay: {5}unreachable since 06:00:00 Europe\/London \(.+\); sending paused; next probe 06:00:00/);
    expect(text).toContain('no reader is charged');
    const metrics = await createMetricsRegistry(runtime, { processMetrics: false }).metrics();
    expect(metrics).toContain('daybreak_transport_breaker_open 1');

    // Ten minutes of outage, in steps of 20 s, each waiting for a probe that finds the relay still down.
    for (let step = 1; step <= 30; step++) {
      clock.advance(20_000);
      await until(async () => (await runtime.transportBreaker.get()).probes >= step, `probe ${step}`);
      failedWhileDown.push((await runtime.editions.get(edition.id))?.failed ?? -1);
    }
    const breaker = await runtime.transportBreaker.get();
    expect(breaker.open).toBe(true);
    expect(breaker.probes).toBe(30);
    expect(failedWhileDown.every((n) => n === 0)).toBe(true);
    expect((await runtime.editions.get(edition.id))?.state).toBe('sending');
  });

  test('when the relay is back, a probe reopens sending and everybody gets exactly one copy', async () => {
    const accepted = sink.messages.length;
    expect(accepted).toBeLessThan(readers);
    await sink.start();
    // The next probe is due at the next 20 s step of the test's clock.
    await until(async () => !(await runtime.transportBreaker.get()).open, 'a probe to close the breaker', 30_000, () => clock.advance(1000));
    const result = await run;
    expect(result.edition).toMatchObject({ state: 'done', sent: readers, failed: 0, total: readers });
    const received = copies(sink);
    expect(received.size).toBe(readers);
    expect([...received].filter(([, n]) => n > 1)).toEqual([]);
    // Nobody was charged a bounce for our relay's outage.
    const report = await bounceReport(runtime, { since: new Date(0), editionId: result.edition.id });
    expect(report.entries).toEqual([]);
    expect(result.edition.bounced).toBe(0);
    const metrics = await createMetricsRegistry(runtime, { processMetrics: false }).metrics();
    expect(metrics).toContain('daybreak_transport_breaker_open 0');
    expect(metrics).toContain('daybreak_transport_unreachable_seconds 0');
  });
});

describe('the send window closes while the relay is still down', () => {
  let sink: SmtpSink;
  let runtime: Runtime;
  let clock: FixedClock;

  beforeAll(async () => {
    // A one-hour retry window: it closes at 07:00.
    ({ sink, runtime, clock } = await setUp('relay-window', { retryWindowHours: 1 }));
  });
  afterAll(async () => {
    await closeRuntime(runtime);
    await sink.close();
  });

  test('the readers it never took are failed with the reason, status says so, and nobody is sent after the window', async () => {
    const run = runEditionNow(runtime, { newsletterId: 'national', localDate: '2026-11-24' });
    await sink.waitForCount(60);
    await relayGoesDown(sink);
    await until(async () => (await runtime.transportBreaker.get()).open, 'the transport breaker to open');
    const sentBefore = sink.messages.length;

    clock.set('2026-11-24T07:00:01Z');
    const { edition } = await run;
    expect(edition.state).toBe('done');
    expect(edition.sent).toBe(sentBefore);
    expect(edition.failed).toBe(readers - sentBefore);
    expect(edition.reason).toMatch(/^relay unreachable until the send window closed at 2026-11-24 07:00 GMT/);
    const unsent = [];
    for await (const entry of runtime.editions.scanLedger(edition.id)) if (entry.kind === 'failed') unsent.push(entry);
    expect(unsent).toHaveLength(readers - sentBefore);
    for (const entry of unsent) expect(entry.detail).toMatch(/^relay unreachable until the send window closed at 2026-11-24 07:00 GMT/);

    const text = renderStatus(runtime, await editionStatus(runtime, edition.id));
    expect(text).toContain('State:     done — relay unreachable until the send window closed at 2026-11-24 07:00 GMT');
    expect(text).toContain(`resend ${edition.id} --failed\` sends them now`);
    // Nobody charged: no bounce for any of them.
    expect((await bounceReport(runtime, { since: new Date(0), editionId: edition.id })).entries).toEqual([]);

    // The relay comes back: nothing more of this edition goes out.
    await sink.start();
    for (let i = 0; i < 10; i++) {
      clock.advance(30_000);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(sink.messages.length).toBe(sentBefore);
    expect([...copies(sink).values()].every((n) => n === 1)).toBe(true);
  });
});

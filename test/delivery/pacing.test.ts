import type { Worker } from 'bullmq';
import { defaultProviderGroups, providerGroups } from '../../src/config/pacing-schema';
import { FixedClock, type Clock } from '../../src/core/clock';
import { enqueueEdition } from '../../src/delivery/enqueue';
import { fanOut } from '../../src/delivery/fanout';
import { afterAccepted, afterActivity, afterDeferral, afterRecovery, currentPace, queueRateLimit, type PaceState } from '../../src/delivery/pacing';
import { Pacer } from '../../src/delivery/pacer';
import { ProviderDirectory, type MxResolver } from '../../src/delivery/provider-directory';
import { domainOf, isRateDeferral, ProviderTable } from '../../src/delivery/providers';
import { createEditionWorker, createSendWorkers } from '../../src/delivery/workers';
import { executeResend, planResend } from '../../src/ops/resend';
import { editionStatus } from '../../src/ops/status';
import { waitForEdition } from '../../src/ops/watch';
import type { Runtime } from '../../src/app/runtime';
import { silentLogger } from '../../src/core/logger';
import { newslettersWithFeed, writeTestFeed } from '../helpers/feed';
import { closeRuntime, setEditionFields, testConfig, testRuntime, uniquePrefix } from '../helpers/runtime';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink';
import { until } from '../ops/fixture';

describe('the provider table', () => {
  const table = new ProviderTable(providerGroups({ providers: { google: { domains: ['daybreak-staff.example'] }, comcast: { domains: ['comcast.net'], perSecond: 20, connections: 4 } } }));

  test('groups the big mailbox providers by domain, with their country variants', () => {
    const cases: Array<[string, string | undefined]> = [
      ['gmail.com', 'google'], ['googlemail.com', 'google'],
      ['outlook.com', 'microsoft'], ['hotmail.co.uk', 'microsoft'], ['hotmail.fr', 'microsoft'], ['live.com', 'microsoft'], ['live.com.au', 'microsoft'], ['msn.com', 'microsoft'], ['outlook.de', 'microsoft'],
      ['yahoo.com', 'yahoo'], ['yahoo.co.jp', 'yahoo'], ['aol.com', 'yahoo'], ['ymail.com', 'yahoo'], ['rocketmail.com', 'yahoo'],
      ['icloud.com', 'apple'], ['me.com', 'apple'], ['mac.com', 'apple'],
      // Look-alikes are nobody's: a brand needs a country suffix right after it.
      ['gmail.com.evil.example', undefined], ['yahoo.example.com', undefined], ['livejournal.com', undefined], ['me.uk', undefined], ['example.com', undefined],
    ];
    for (const [domain, group] of cases) expect([domain, table.groupOfDomain(domain)]).toEqual([domain, group]);
    expect(domainOf('Reader@GMail.com')).toBe('gmail.com');
  });

  test('a config adds domains to a group, or a group of its own, without restating the defaults', () => {
    expect(table.groupOfDomain('daybreak-staff.example')).toBe('google');
    expect(table.groupOfDomain('gmail.com')).toBe('google');
    expect(table.groupOfDomain('comcast.net')).toBe('comcast');
    expect(providerGroups({ providers: {} }).map((g) => g.id)).toEqual(Object.keys(defaultProviderGroups));
  });

  test('Yahoo ramps up by default (no burst at the top of the hour); a config sets a ramp, or turns it off with 0', () => {
    expect(providerGroups({ providers: {} }).find((g) => g.id === 'yahoo')?.rampFromPerSecond).toBe(20);
    expect(providerGroups({ providers: {} }).find((g) => g.id === 'google')?.rampFromPerSecond).toBeUndefined();
    const own = providerGroups({ providers: { yahoo: { rampFromPerSecond: 0 }, google: { rampFromPerSecond: 50 }, apple: { rampFromPerSecond: 500 } } });
    expect(own.find((g) => g.id === 'yahoo')?.rampFromPerSecond).toBeUndefined();
    expect(own.find((g) => g.id === 'google')?.rampFromPerSecond).toBe(50);
    // A ramp from above the full pace is no ramp.
    expect(own.find((g) => g.id === 'apple')?.rampFromPerSecond).toBeUndefined();
  });

  test('MX hosts name their provider, the most specific suffix first', () => {
    expect(table.groupOfMxHost('aspmx.l.google.com.')).toBe('google');
    expect(table.groupOfMxHost('acme-example.mail.protection.outlook.com')).toBe('microsoft');
    expect(table.groupOfMxHost('mta5.am0.yahoodns.net')).toBe('yahoo');
    expect(table.groupOfMxHost('mx01.mail.icloud.com')).toBe('apple');
    expect(table.groupOfMxHost('mx.notgoogle.com')).toBeUndefined();
  });
});

describe('replies that ask us to slow down', () => {
  test('4.7.x, a 421 at RCPT or DATA, and throttling in words are rate deferrals; other 4xx and 5xx are not', () => {
    expect(isRateDeferral({ replyCode: 421, status: '4.7.28', diagnostic: '421-4.7.28 Our system has detected an unusual rate of unsolicited mail', command: 'RCPT' })).toBe(true);
    expect(isRateDeferral({ replyCode: 451, status: '4.7.650', diagnostic: '451 4.7.650 The mail server has been temporarily rate limited', command: 'RCPT' })).toBe(true);
    expect(isRateDeferral({ replyCode: 421, status: '4.7.0', diagnostic: '[TS01] Messages from 192.0.2.1 temporarily deferred', command: 'DATA' })).toBe(true);
    expect(isRateDeferral({ replyCode: 450, diagnostic: '450 too many messages, slow down', command: 'RCPT' })).toBe(true);
    expect(isRateDeferral({ replyCode: 451, status: '4.3.0', diagnostic: '451 4.3.0 local error in processing', command: 'RCPT' })).toBe(false);
    expect(isRateDeferral({ replyCode: 452, status: '4.2.2', diagnostic: '452 4.2.2 mailbox full', command: 'RCPT' })).toBe(false);
    expect(isRateDeferral({ replyCode: 550, status: '5.7.1', diagnostic: '550 5.7.1 rate limit exceeded permanently', command: 'RCPT' })).toBe(false);
    // nodemailer reports a 421 at RCPT as the connection closing: the status still says what it is.
    expect(isRateDeferral({ replyCode: 421, status: '4.7.28', diagnostic: '421 4.7.28 unusual rate of unsolicited mail', command: 'CONN' })).toBe(true);
    // Our relay closing on us, or refusing our setup, is the transport's business, not a provider's pace.
    expect(isRateDeferral({ replyCode: 421, diagnostic: '421 service shutting down', command: 'CONN' })).toBe(false);
    expect(isRateDeferral({ replyCode: 454, status: '4.7.0', diagnostic: '454 4.7.0 TLS not available', command: 'HELO' })).toBe(false);
    expect(isRateDeferral({ diagnostic: 'connect ECONNREFUSED' })).toBe(false);
  });
});

describe('additive increase, multiplicative decrease', () => {
  const settings = { minPerSecond: 1, recoverSeconds: 100, deferralCooldownMs: 2000 };
  const full = 201;

  test('a deferral halves the pace once per cooldown, never below the floor', () => {
    let s: PaceState = { version: 0 };
    s = afterDeferral(s, full, settings, 10_000, '421 4.7.28 slow down');
    expect(currentPace(s, full)).toBeCloseTo(100.5);
    expect(s.deferringSince).toBe(10_000);
    // Replies to sends made at the old pace, within the cooldown, do not halve it again.
    s = afterDeferral(s, full, settings, 11_000, '421 4.7.28 slow down');
    expect(currentPace(s, full)).toBeCloseTo(100.5);
    for (let t = 12_000; t < 40_000; t += 2000) s = afterDeferral(s, full, settings, t, '421');
    expect(currentPace(s, full)).toBe(1);
    expect(s.deferringSince).toBe(10_000);
  });

  test('after deferrals stop, the pace climbs back a step a second, to full and no further', () => {
    let s: PaceState = { version: 0, pace: 1, changedAt: 0, decreasedAt: 0, deferringSince: 0 };
    s = afterAccepted(s) ?? s;
    expect(s.deferringSince).toBeUndefined();
    expect(afterRecovery(s, full, settings, 500)).toBeUndefined();
    s = afterRecovery(s, full, settings, 10_000) as PaceState;
    // (201 - 1) / 100 s = 2 messages/s more for each second.
    expect(currentPace(s, full)).toBeCloseTo(21);
    s = afterRecovery(s, full, settings, 1_000_000) as PaceState;
    expect(s.pace).toBeUndefined();
    expect(currentPace(s, full)).toBe(full);
  });

  test('a group with a ramp that was idle (or never sent) starts from its ramp pace; a busy one only notes it is busy, once a minute', () => {
    const idleMs = 15 * 60_000;
    const ramp = 20;
    // Never active: starts from the ramp, then climbs as a recovering group does.
    let s = afterActivity({ version: 0 }, full, ramp, idleMs, 100_000) as PaceState;
    expect(s).toMatchObject({ pace: 20, changedAt: 100_000, activeAt: 100_000 });
    // Busy: nothing within the minute, then only activeAt moves.
    expect(afterActivity(s, full, ramp, idleMs, 130_000)).toBeUndefined();
    s = { ...s, pace: undefined };
    expect(afterActivity(s, full, ramp, idleMs, 170_000)).toEqual({ ...s, activeAt: 170_000 });
    // Idle for the whole idleMs: the ramp again.
    expect(afterActivity({ ...s, activeAt: 170_000 }, full, ramp, idleMs, 170_000 + idleMs)).toMatchObject({ pace: 20, activeAt: 170_000 + idleMs });
    // Already slower than the ramp (deferrals), or paused: the pace is left alone.
    expect(afterActivity({ version: 0, pace: 5 }, full, ramp, idleMs, 1)?.pace).toBe(5);
    expect(afterActivity({ version: 0, pausedUntil: 10_000 }, full, ramp, idleMs, 1)?.pace).toBeUndefined();
    // No ramp configured: full pace from the first message.
    expect(afterActivity({ version: 0 }, full, undefined, idleMs, 1)).toEqual({ version: 0, activeAt: 1 });
  });

  test('a pace becomes a BullMQ limit: whole messages a second, or one every so many milliseconds', () => {
    expect(queueRateLimit(300)).toEqual({ max: 300, duration: 1000 });
    expect(queueRateLimit(12.7)).toEqual({ max: 12, duration: 1000 });
    expect(queueRateLimit(0.5)).toEqual({ max: 1, duration: 2000 });
  });
});

describe('a provider that asks senders not to burst at the top of the hour', () => {
  const clock = new FixedClock('2026-11-24T06:00:00Z');
  let runtime: Runtime;
  let pacer: Pacer;
  const limitOf = async (group: string) => (await runtime.queues.send('national', group).getMeta()).max;
  const advance = (seconds: number) => clock.set(new Date(clock.now().getTime() + seconds * 1000));

  beforeAll(async () => {
    const config = testConfig(uniquePrefix('pacing-ramp'), { newsletters: newslettersWithFeed(writeTestFeed(['2026-11-24'])) });
    runtime = testRuntime(config, { clock });
    pacer = new Pacer(runtime);
  });
  afterAll(async () => {
    await pacer.stop();
    await closeRuntime(runtime);
  });

  test("Yahoo's readers start at its ramp pace and climb to its full pace; after a quiet spell it ramps again, and a group without a ramp starts at full pace", async () => {
    const yahoo = runtime.queues.send('national', 'yahoo');
    const google = runtime.queues.send('national', 'google');
    // Messages queued for both groups, and no worker taking them: the pacer sees both busy.
    await yahoo.add('send', { e: 'national-2026-11-24', s: '1' });
    await google.add('send', { e: 'national-2026-11-24', s: '2' });
    await pacer.start(['national']);
    await pacer.stop();
    expect(await limitOf('yahoo')).toBe(20);
    expect(await limitOf('google')).toBe(300);
    // (100 - 1) / 120 s: 0.825 messages/s more each second.
    advance(60);
    await pacer.tick();
    expect(await limitOf('yahoo')).toBe(69);
    advance(60);
    await pacer.tick();
    expect(await limitOf('yahoo')).toBe(100);
    expect((await runtime.paceStore.state('yahoo')).pace).toBeUndefined();
    // Busy for twenty minutes more (ticks every second in a worker; every minute is enough here): no new ramp.
    for (let minute = 0; minute < 20; minute++) {
      advance(60);
      await pacer.tick();
      expect(await limitOf('yahoo')).toBe(100);
    }
    // Nothing queued for 16 minutes, then the next morning's messages: it ramps again.
    await yahoo.drain();
    advance(5);
    await pacer.tick();
    advance(16 * 60);
    await pacer.tick();
    expect(await limitOf('yahoo')).toBe(100);
    await yahoo.add('send', { e: 'national-2026-11-25', s: '1' });
    await pacer.tick();
    expect(await limitOf('yahoo')).toBe(20);
    expect(await limitOf('google')).toBe(300);
  });
});

describe('grouping by MX host, on a fake resolver', () => {
  let runtime: Runtime;
  const asked: string[] = [];
  const resolver: MxResolver = {
    async resolveMx(domain) {
      asked.push(domain);
      if (domain === 'acme.example') return [{ exchange: 'alt1.aspmx.l.google.com', priority: 20 }, { exchange: 'aspmx.l.google.com', priority: 10 }];
      if (domain === 'contoso.example') return [{ exchange: 'contoso-example.mail.protection.outlook.com', priority: 0 }];
      if (domain === 'small.example') return [{ exchange: 'mx.small.example', priority: 10 }];
      throw Object.assign(new Error('queryMx ENOTFOUND'), { code: 'ENOTFOUND' });
    },
  };

  beforeAll(async () => {
    runtime = testRuntime(testConfig(uniquePrefix('pacing-mx'), { pacing: { mxLookup: true } }), { mxResolver: resolver });
    const domains = ['acme.example', 'contoso.example', 'small.example', 'gone.example', 'gmail.com'];
    for (let i = 0; i < 50; i++) await runtime.subscribers.add({ email: `reader-${i}@${domains[i % domains.length]}`, newsletters: ['national'], confirmed: true, source: 'test' });
  });
  afterAll(() => closeRuntime(runtime));

  test('a company domain hosted by Google is paced as Google; each domain is resolved once per edition', async () => {
    const now = new Date('2026-11-24T06:00:00Z');
    for (const id of ['national-2026-11-24', 'national-2026-11-25']) {
      await runtime.editions.createIfAbsent({ id, newsletterId: 'national', localDate: id.slice(-10), trigger: 'manual', scheduledFor: now, now });
      await setEditionFields(runtime, id, { state: 'sending' });
    }
    const deps = { editions: runtime.editions, subscribers: runtime.subscribers, queues: runtime.queues, providers: runtime.providers, clock: runtime.clock, logger: runtime.logger, newsletter: (id: string) => runtime.newsletter(id) };
    await fanOut({ ...deps, config: { delivery: { ...runtime.config.delivery, fanoutPageSize: 7 } } }, 'national-2026-11-24');
    // Ten readers per domain, over eight pages: each unknown domain was asked about once.
    expect([...asked].sort()).toEqual(['acme.example', 'contoso.example', 'gone.example', 'small.example']);
    const waiting = async (group?: string) => (await runtime.queues.send('national', group).getJobCounts('waiting')).waiting;
    expect(await waiting('google')).toBe(20); // gmail.com by the table, acme.example by its MX
    expect(await waiting('microsoft')).toBe(10);
    expect(await waiting()).toBe(20); // small.example, and gone.example whose lookup failed

    // Another process, the same edition: the answers are in Redis, nobody asks DNS again.
    const other = new ProviderDirectory({ paceStore: runtime.paceStore, mxResolver: resolver, logger: silentLogger, config: runtime.config });
    expect((await other.groupsOf('national-2026-11-24', ['acme.example', 'contoso.example'])).get('acme.example')).toBe('google');
    expect(asked).toHaveLength(4);
    // The next edition asks again (an MX record can move between mornings), once per domain.
    await fanOut(runtime, 'national-2026-11-25');
    expect(asked).toHaveLength(8);
  });
});

describe('one provider deferring, on loopback SMTP sinks', () => {
  /** Real time, from the edition's morning: BullMQ's delays and the pacer's clock both move with it. */
  class ShiftedClock implements Clock {
    private offset = 0;
    set(at: string): void {
      this.offset = Date.parse(at) - Date.now();
    }
    now(): Date {
      return new Date(Date.now() + this.offset);
    }
  }
  const clock = new ShiftedClock();
  const gmail = (a: string) => a.endsWith('@gmail.com');
  let deferring = false;
  let sink: SmtpSink;
  let runtime: Runtime;
  let workers: Worker[] = [];
  const readers = { google: 30, microsoft: 20, other: 30 };

  beforeAll(async () => {
    sink = await startSmtpSink({
      // Gmail throttles us while `deferring` is set; everyone else accepts.
      refuse: (address) => (deferring && gmail(address) ? { code: 421, message: '4.7.28 Our system has detected an unusual rate of unsolicited mail originating from your IP address. Try again later.' } : undefined),
    });
    const feed = writeTestFeed(['2026-11-24', '2026-11-25']);
    const config = testConfig(uniquePrefix('pacing-defer'), {
      smtpUrl: sink.url,
      newsletters: newslettersWithFeed(feed),
      delivery: { concurrency: 10, smtpMaxConnections: 4, attempts: 20, backoffMs: 100, fanoutPageSize: 25, lockDurationMs: 30_000, stalledIntervalMs: 30_000 },
      pacing: { providers: { google: { perSecond: 40, connections: 4 }, microsoft: { perSecond: 40, connections: 4 } }, minPerSecond: 2, recoverSeconds: 2, deferralCooldownMs: 300 },
    });
    runtime = testRuntime(config, { clock });
    let i = 0;
    for (const [group, n] of Object.entries(readers)) {
      const domain = group === 'google' ? 'gmail.com' : group === 'microsoft' ? 'outlook.com' : 'example.org';
      for (let k = 0; k < n; k++) await runtime.subscribers.add({ email: `reader-${(i += 1)}@${domain}`, newsletters: ['national'], confirmed: true, source: 'test' });
    }
    workers = [createEditionWorker(runtime), ...createSendWorkers(runtime, { newsletters: ['national'] })];
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.close()));
    await closeRuntime(runtime);
    await sink.close();
  });

  const others = readers.microsoft + readers.other;
  const delivered = (from: number, which: (a: string) => boolean) => sink.messages.slice(from).filter((m) => m.recipients.some(which)).length;

  /** Runs one day's edition; returns how long the non-Gmail readers took, and how many Gmail readers had it by then. */
  async function edition(localDate: string, defer: boolean): Promise<{ othersMs: number; gmailWhenOthersDone: number; id: string }> {
    const from = sink.messages.length;
    clock.set(`${localDate}T06:00:00Z`);
    deferring = defer;
    const started = Date.now();
    const { edition: e } = await enqueueEdition(runtime, { newsletterId: 'national', localDate, trigger: 'manual' });
    await until(() => delivered(from, (a) => !gmail(a)) >= others, 60_000, 'the other providers\' readers');
    const othersMs = Date.now() - started;
    const gmailWhenOthersDone = delivered(from, gmail);
    deferring = false;
    const done = await waitForEdition(runtime, e.id, { timeoutMs: 60_000 });
    expect(done).toMatchObject({ state: 'done', sent: others + readers.google, failed: 0 });
    // Every reader has it exactly once, Gmail's included.
    const copies = new Map<string, number>();
    for (const m of sink.messages.slice(from)) for (const r of m.recipients) copies.set(r, (copies.get(r) ?? 0) + 1);
    expect(copies.size).toBe(others + readers.google);
    expect([...copies.values()].every((n) => n === 1)).toBe(true);
    return { othersMs, gmailWhenOthersDone, id: e.id };
  }

  jest.setTimeout(180_000);

  test("Gmail's deferrals slow Gmail only: its readers all get it once, later; the others finish as fast as without them", async () => {
    const calm = await edition('2026-11-24', false);
    expect(calm.gmailWhenOthersDone).toBeGreaterThanOrEqual(0);

    const throttled = await edition('2026-11-25', true);
    // Counted at the moment the others were done: not one Gmail reader had it (Gmail was deferring),
    // so nothing the others got waited on Gmail.
    expect(throttled.gmailWhenOthersDone).toBe(0);
    // A generous margin: the machine is shared, the point is "not held up for Gmail's sake".
    expect(throttled.othersMs).toBeLessThan(Math.max(3 * calm.othersMs, calm.othersMs + 10_000));

    // Each worker writes its per-group counts once a second.
    let status = await editionStatus(runtime, throttled.id);
    await until(async () => (status = await editionStatus(runtime, throttled.id)).providers?.find((p) => p.group === 'google')?.sent === readers.google, 10_000, 'the per-group counts');
    const byGroup = new Map((status.providers ?? []).map((p) => [p.group, p]));
    expect(byGroup.get('google')).toMatchObject({ sent: readers.google });
    // Refusals the sink gave Gmail count as deferrals of Google's group, and only there (a 421 closes
    // the session, so the client may see some only as the connection closing: at most as many).
    const refused = [...sink.refusals].filter(([a]) => gmail(a)).reduce((sum, [, n]) => sum + n, 0);
    expect(byGroup.get('google')?.deferred).toBeGreaterThan(0);
    expect(byGroup.get('google')?.deferred).toBeLessThanOrEqual(refused);
    expect(byGroup.get('microsoft')).toMatchObject({ sent: readers.microsoft, deferred: 0, pace: 40 });
    expect(byGroup.get('other')).toMatchObject({ sent: readers.other, deferred: 0 });
    // Google's pace was halved (and is climbing back); nobody else's moved.
    const history = await runtime.paceStore.states(['google', 'microsoft']);
    expect(history.get('google')?.decreasedAt).toBeDefined();
    expect(history.get('microsoft')?.decreasedAt).toBeUndefined();
  });
});

describe('a provider that keeps deferring past the send window', () => {
  let sink: SmtpSink;
  let runtime: Runtime;
  let workers: Worker[] = [];
  const clock = new FixedClock('2026-11-24T06:00:00Z');
  const gmail = (a: string) => a.endsWith('@gmail.com');
  const gmailRefusals = () => [...sink.refusals].filter(([a]) => gmail(a)).reduce((sum, [, n]) => sum + n, 0);

  beforeAll(async () => {
    // Gmail defers every message, all morning.
    sink = await startSmtpSink({ refuse: (address) => (gmail(address) ? { code: 421, message: '4.7.28 Our system has detected an unusual rate of unsolicited mail. Try again later.' } : undefined) });
    const config = testConfig(uniquePrefix('pacing-pause'), {
      smtpUrl: sink.url,
      newsletters: newslettersWithFeed(writeTestFeed(['2026-11-24']), { sendWindowHours: 1 }),
      delivery: { concurrency: 10, smtpMaxConnections: 3, backoffMs: 20, retryBackoffMaxMs: 100, fanoutPageSize: 25, lockDurationMs: 30_000, stalledIntervalMs: 30_000 },
      pacing: { providers: { google: { perSecond: 50, connections: 4 } }, minPerSecond: 20, deferralCooldownMs: 0, pauseMinutes: 180 },
    });
    runtime = testRuntime(config, { clock });
    for (let i = 1; i <= 10; i++) await runtime.subscribers.add({ email: `reader-${i}@${i % 2 ? 'gmail.com' : 'example.org'}`, newsletters: ['national'], confirmed: true, source: 'test' });
    workers = [createEditionWorker(runtime), ...createSendWorkers(runtime, { newsletters: ['national'] })];
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.close()));
    await closeRuntime(runtime);
    await sink.close();
  });

  test('is paused and reported when the window closes, its readers failed with the reason; while paused nothing more is sent to it', async () => {
    const { edition } = await enqueueEdition(runtime, { newsletterId: 'national', localDate: '2026-11-24', trigger: 'manual' });
    // The others are delivered; every Gmail reader has been deferred (and retried) at least twice.
    await sink.waitForCount(5, 20_000);
    await until(() => [...sink.refusals].filter(([a]) => gmail(a) && (sink.refusals.get(a) ?? 0) >= 2).length === 5, 20_000, 'Gmail deferring everyone twice');
    expect((await runtime.paceStore.state('google')).deferringSince).toBeDefined();

    // 07:01: the one-hour window has closed with Gmail still deferring.
    clock.set('2026-11-24T07:01:00Z');
    const done = await waitForEdition(runtime, edition.id, { timeoutMs: 20_000 });
    expect(done).toMatchObject({ state: 'done', sent: 5, failed: 5 });
    const failed = (await runtime.editions.ledgerEntries(edition.id, [...(await runtime.subscribers.pageMembers('national', 0, 100))])).filter((e) => e?.kind === 'failed');
    expect(failed).toHaveLength(5);
    for (const entry of failed) expect(entry?.detail).toMatch(/4\.7\.28.*(retried until the send window closed|paused until)/);
    // Reported: in the edition's history, and per group in status (what /metrics reads too).
    expect((await runtime.editions.history(edition.id)).find((h) => h.event === 'provider-paused')).toMatchObject({ group: 'google' });
    const google = (await editionStatus(runtime, edition.id)).providers?.find((p) => p.group === 'google');
    expect(google).toMatchObject({ pace: 0, pausedUntil: '2026-11-24T10:01:00.000Z' });
    expect((await editionStatus(runtime, edition.id)).notes.join(' ')).toMatch(/google is paused until/);

    // Ops resend the failed readers at 07:30, while Google is paused: their jobs wait (Google's
    // queue takes nothing for a while), and not one message is put to Gmail.
    clock.set('2026-11-24T07:30:00Z');
    const refusedBefore = gmailRefusals();
    const plan = await planResend(runtime, edition.id, { failed: true });
    const resend = executeResend(runtime, plan, { by: 'test' });
    await until(async () => (await runtime.queues.send('national', 'google').getRateLimitTtl()) > 0, 20_000, "Google's queue waiting out the pause");
    expect(gmailRefusals()).toBe(refusedBefore);
    // Past the resend's own window (an hour from 07:30) and still paused: failed without SMTP.
    clock.set('2026-11-24T08:31:00Z');
    const result = await resend;
    expect(result.outcomes).toEqual({ failed: 5 });
    expect(gmailRefusals()).toBe(refusedBefore);
    const again = await runtime.editions.ledgerEntry(edition.id, failed[0]?.subscriberId as string);
    expect(again?.detail).toMatch(/not sent: google was paused until 2026-11-24T10:01:00.000Z/);
  });
});

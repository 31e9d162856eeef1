import nodemailer from 'nodemailer';
import { startBounceServer, type BounceServer } from '../../src/bounces/bounce-server';
import { BouncePolicy } from '../../src/bounces/policy';
import { EditionScheduler } from '../../src/delivery/scheduler';
import type { LedgerEntry } from '../../src/delivery/edition-store';
import { messageIdFor, messageNonce } from '../../src/mail/personalise';
import { verpAddress, verpSettings, type VerpSettings } from '../../src/mail/verp';
import { runLifecycle, type LifecycleReport } from '../../src/ops/lifecycle';
import { executeResend, planResend } from '../../src/ops/resend';
import { editionStatus } from '../../src/ops/status';
import { runEditionNow } from '../../src/ops/run-now';
import { buildWebServer } from '../../src/web/server';
import { closeRuntime, setEditionFields, writeConfigFile } from '../helpers/runtime';
import { copiesByRecipient, editionId, opsFixture, runCli, type OpsFixture } from './fixture';

const bounceDomain = 'bounces.daybreak.test';
const dayMs = 86_400_000;

/** A DSN as a receiving MTA sends it back to the VERP envelope sender. */
function dsn(to: string, recipient: string): string {
  return [
    'From: Mail Delivery System <MAILER-DAEMON@mx.reader.example>', `To: ${to}`, 'Subject: Undelivered Mail Returned to Sender',
    'Message-ID: <late-dsn-1@mx.reader.example>', 'Auto-Submitted: auto-replied', 'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B"', '',
    '--B', 'Content-Type: text/plain', '', `<${recipient}>: mailbox unavailable`, '',
    '--B', 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns; mx.reader.example', '',
    `Final-Recipient: rfc822; ${recipient}`, 'Action: failed', 'Status: 5.1.1', 'Diagnostic-Code: smtp; 550 5.1.1 no such user', '',
    '--B--', '',
  ].join('\r\n');
}

describe('an edition whose life ends: compacted after its settle window, its per-reader data dropped after the retention', () => {
  let f: OpsFixture;
  /** The binary runs on the wall clock: its config keeps per-reader data a century, so no run of it drops any. */
  let env: Record<string, string>;
  let scheduler: EditionScheduler;
  let before: Array<LedgerEntry | undefined>;
  let ids: string[];
  let finishedAt: Date;
  /** The picky reader's refusals, once retries ran out, counted as a (soft) bounce at send time. */
  let bounced: number;
  const picky = 'picky-7@example.com';
  const suppressed = 'reader-5@example.com';

  beforeAll(async () => {
    f = await opsFixture('lifecycle', {
      readers: 40,
      email: (i) => (i === 7 ? picky : `reader-${i}@example.com`),
      // A mailbox that stays temporarily unavailable: a failed send with its reply, not a hard bounce.
      // It is retried until the send window closes, which the test's clock does once it was tried twice.
      sink: {
        refuse: (address, attempt) => {
          if (address !== picky) return undefined;
          if (attempt >= 2) f.clock.set('2026-11-24T12:00:00Z');
          return { code: 451, message: '4.2.1 mailbox busy, try later' };
        },
      },
      delivery: { bounceDomain },
    });
    env = { DAYBREAK_CONFIG: writeConfigFile(f.config, { retention: { ...f.config.retention, readerDataDays: 36_500 } }) };
    ids = [...f.ids.values()];
    await f.runtime.subscribers.suppress(suppressed, { reason: 'hard bounce', source: 'test' });
    const run = await runEditionNow(f.runtime, { newsletterId: 'national', localDate: '2026-11-24', concurrency: 6 });
    expect(run.edition).toMatchObject({ state: 'done', sent: 38, failed: 1, skipped: 1, total: 40 });
    finishedAt = run.edition.finishedAt as Date;
    bounced = run.edition.bounced;
    before = await f.runtime.editions.ledgerEntries(editionId, ids);
    scheduler = new EditionScheduler(f.runtime);
  });
  afterAll(async () => {
    await closeRuntime(f.runtime);
    await f.sink.close();
  });

  test('inside the settle window nothing is compacted', async () => {
    f.clock.set(new Date(finishedAt.getTime() + 6 * dayMs));
    const report = (await scheduler.housekeep()) as LifecycleReport;
    expect(report.actions).toEqual([]);
    expect(report.settling).toBe(1);
    expect((await f.runtime.editions.get(editionId))?.compactedAt).toBeUndefined();
    await expect(runLifecycle(f.runtime, { editionId })).rejects.toMatchObject({ code: 'refused', message: expect.stringContaining('`--older-than 0` compacts it now') });
    const sending = 'national-2026-11-25';
    await f.runtime.editions.createIfAbsent({ id: sending, newsletterId: 'national', localDate: '2026-11-25', trigger: 'manual', scheduledFor: f.clock.now(), now: f.clock.now() });
    await setEditionFields(f.runtime, sending, { state: 'sending' });
    const refused = await runCli(['editions', 'compact', sending], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('is sending; only a done or cancelled edition');
    await setEditionFields(f.runtime, sending, { state: 'cancelled' });
  });

  test('after it, the scheduler compacts the ledger: sent readers become bits, failed and skipped keep their detail, logged in the history', async () => {
    f.clock.set(new Date(finishedAt.getTime() + 8 * dayMs));
    const report = (await scheduler.housekeep()) as LifecycleReport;
    expect(report.actions.map((a) => [a.editionId, a.action])).toEqual([[editionId, 'compacted']]);
    const { redis, keys } = f.runtime;
    expect(await redis.hlen(keys.ledger(editionId))).toBe(2);
    expect(await redis.bitcount(keys.ledgerSent(editionId))).toBe(38);
    const after = await f.runtime.editions.ledgerEntries(editionId, ids);
    after.forEach((entry, i) => {
      const was = before[i] as LedgerEntry;
      expect(entry?.kind).toBe(was.kind);
      if (was.kind === 'sent') expect(entry?.at).toEqual(finishedAt);
      else expect(entry).toEqual(was);
    });
    expect(await f.runtime.editions.ledgerEntry(editionId, f.ids.get(picky) as string)).toMatchObject({ kind: 'failed', detail: expect.stringContaining('451') });
    const scanned = new Map<string, string>();
    for await (const e of f.runtime.editions.scanLedger(editionId)) scanned.set(e.subscriberId, e.kind);
    expect(scanned.size).toBe(40);
    expect([...scanned.values()].filter((k) => k === 'sent')).toHaveLength(38);
    const edition = await f.runtime.editions.get(editionId);
    expect(edition?.compactedAt).toEqual(f.clock.now());
    const history = await f.runtime.editions.history(editionId);
    const compacted = history.filter((h) => h.event === 'compacted');
    expect(compacted).toHaveLength(1);
    expect(compacted[0]).toMatchObject({ sent: 38, kept: 2 });
    expect(Number(compacted[0]?.bytesAfter)).toBeLessThan(Number(compacted[0]?.bytesBefore));
  });

  test('compacting twice is compacting once', async () => {
    const { redis, keys } = f.runtime;
    const dump = async () => [await redis.dumpBuffer(keys.ledger(editionId)), await redis.dumpBuffer(keys.ledgerSent(editionId)), await redis.llen(keys.editionHistory(editionId))];
    const first = await dump();
    expect((await scheduler.housekeep() as LifecycleReport).actions).toEqual([]);
    // Even forced through the store, a second compaction moves nothing and logs nothing.
    const again = await f.runtime.editions.compactLedger(editionId, f.clock.now());
    expect(again).toMatchObject({ compacted: false, moved: 0, sentBits: 38, kept: 2 });
    expect(await dump()).toEqual(first);
    const cli = await runCli(['editions', 'compact', editionId], env);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain('compacted already');
  });

  test('status and editions, through the binary, show the same counts', async () => {
    const status = await runCli(['status', editionId, '--json'], env);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).counts).toEqual({ total: 40, sent: 38, failed: 1, bounced, complaints: 0, skipped: 1, pending: 0 });
    const human = await runCli(['status', editionId], env);
    expect(human.stdout).toMatch(/sent\s+38 \(95\.0%\)/);
    expect(human.stdout).toContain('Readers:   ledger compacted');
    const list = await runCli(['editions', '--json'], env);
    expect(JSON.parse(list.stdout).find((e: { id: string }) => e.id === editionId)).toMatchObject({ id: editionId, total: 40, sent: 38, failed: 1, skipped: 1, pending: 0 });
  });

  test('resend --unsent --dry-run, through the binary, names only readers with no sent mark; --failed finds the failed one', async () => {
    const dry = await runCli(['resend', editionId, '--unsent', '--dry-run'], env);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('nobody to resend to');
    // A reader requeued by hand (as a --failed resend does) is unsent: the only one listed.
    const failedPlan = await planResend(f.runtime, editionId, { failed: true });
    expect(failedPlan.targets.map((t) => t.email)).toEqual([picky]);
    await f.runtime.editions.requeueFailed(editionId, [f.ids.get(picky) as string], f.clock.now());
    const json = await runCli(['resend', editionId, '--unsent', '--dry-run', '--json'], env);
    expect(JSON.parse(json.stdout).targets.map((t: { email: string; reason: string }) => [t.email, t.reason])).toEqual([[picky, 'queued']]);
    // Back as it was, for the tests that follow.
    await f.runtime.editions.settle(editionId, f.ids.get(picky) as string, 'f', '451 4.2.1 mailbox busy, try later', f.clock.now());
  });

  test('a late DSN to a VERP address of a copy we sent is attributed and counted once; a Message-ID is checked by deriving it again', async () => {
    const settings = verpSettings(f.config) as VerpSettings;
    const reader = f.ids.get('reader-9@example.com') as string;
    const server: BounceServer = await startBounceServer(f.runtime, { port: 0, host: '127.0.0.1' });
    const client = nodemailer.createTransport({ host: '127.0.0.1', port: server.port, secure: false, ignoreTLS: true });
    try {
      const to = verpAddress(settings, { editionId, subscriberId: reader });
      await client.sendMail({ envelope: { from: '', to: [to] }, raw: dsn(to, 'reader-9@example.com') });
    } finally {
      client.close();
      await server.close();
    }
    expect(await f.runtime.subscribers.suppression('reader-9@example.com')).toMatchObject({ reason: 'hard bounce', evidence: { editionId, attribution: 'verp' } });
    expect((await f.runtime.editions.get(editionId))?.bounced).toBe(bounced + 1);

    const policy = new BouncePolicy(f.runtime);
    const event = (id: string, email: string, messageId: string) => ({ id, source: 'ses' as const, kind: 'soft' as const, email, reason: 'mailboxfull', at: f.clock.now(), hints: { verpAddresses: [], messageIds: [messageId] } });
    const derived = (subscriberId: string) => messageIdFor(editionId, subscriberId, 'daybreak.example', messageNonce(f.config.secret, editionId, subscriberId));
    // The copy the sink received carries exactly the Message-ID derived again.
    const sentCopy = f.sink.messages.find((m) => m.recipients[0] === 'reader-11@example.com');
    const header = (/^Message-ID: *(<[^>]+>)/im.exec(sentCopy?.raw.toString('latin1') ?? '')?.[1]) as string;
    expect(header).toBe(derived(f.ids.get('reader-11@example.com') as string).replace('daybreak.example', header.slice(header.indexOf('@') + 1, -1)));
    const good = await policy.record(event('ses:late-1', 'reader-11@example.com', header));
    expect(good).toMatchObject({ attribution: 'message-id', editionId });
    // The suppressed reader was never sent this edition: their (well-formed, derived) Message-ID proves nothing.
    const never = await policy.record(event('ses:late-2', suppressed, derived(f.ids.get(suppressed) as string)));
    expect(never.attribution).not.toBe('message-id');
    expect(never.editionId).toBeUndefined();
    // A guessed nonce for a reader who was sent proves nothing either.
    const guessed = await policy.record(event('ses:late-3', 'reader-12@example.com', `<${editionId}.${f.ids.get('reader-12@example.com')}.guessedNonce@daybreak.example>`));
    expect(guessed.attribution).not.toBe('message-id');
    // (By address, the compacted ledger still shows reader 12 was sent this edition before the report.)
    expect(guessed).toMatchObject({ attribution: 'recent-send', editionId });
    bounced = (await f.runtime.editions.get(editionId))?.bounced as number;
  });

  test('resend --to on a compacted edition sends one copy, keeps the counts, and the ledger still reads sent', async () => {
    const reader = f.ids.get('reader-13@example.com') as string;
    const plan = await planResend(f.runtime, editionId, { to: 'reader-13@example.com' });
    expect(plan.targets[0]?.detail).toBe(`sent: ${messageIdFor(editionId, reader, 'daybreak.example', messageNonce(f.config.secret, editionId, reader))}`);
    const before = f.sink.messages.length;
    const result = await executeResend(f.runtime, plan, { by: 'ops' });
    expect(result.outcomes).toEqual({ sent: 1 });
    expect(copiesByRecipient(f.sink, before)).toEqual(new Map([['reader-13@example.com', 1]]));
    expect(await f.runtime.editions.get(editionId)).toMatchObject({ sent: 38, total: 40 });
    expect((await f.runtime.editions.ledgerEntry(editionId, reader))?.kind).toBe('sent');
    // The resent reader is in the hash again and no longer a bit: each reader in one place.
    expect(await f.runtime.redis.getbit(f.runtime.keys.ledgerSent(editionId), Number(reader))).toBe(0);
  });

  test('after the retention, the per-reader data goes; counts, history and the archive page stay', async () => {
    // The resend above finished the edition again: the retention counts from its last finish.
    const lastFinished = (await f.runtime.editions.get(editionId))?.finishedAt as Date;
    expect(lastFinished.getTime()).toBeGreaterThan(finishedAt.getTime());
    f.clock.set(new Date(lastFinished.getTime() + 399 * dayMs));
    expect(((await scheduler.housekeep()) as LifecycleReport).actions).toEqual([]);
    const { redis, keys } = f.runtime;
    // Per-reader click records (a newsletter's opt-in) and an approval plan go with the rest; story counts stay.
    await f.runtime.clicks.recordReader(editionId, ids[3] as string, 'story-1');
    await redis.hset(keys.clicks(editionId), 'story-1|h', 5);
    await redis.set(keys.editionSource(editionId), '{}');
    f.clock.set(new Date(lastFinished.getTime() + 401 * dayMs));
    const report = (await scheduler.housekeep()) as LifecycleReport;
    expect(report.actions).toEqual([{ editionId, action: 'readers-dropped', finishedDaysAgo: 401 }]);
    expect(await redis.exists(keys.ledger(editionId), keys.ledgerSent(editionId), keys.editionBounces(editionId), keys.editionMime(editionId), keys.clickReaders(editionId), keys.editionSource(editionId))).toBe(0);
    expect(await redis.hget(keys.clicks(editionId), 'story-1|h')).toBe('5');
    expect(await f.runtime.editions.content(editionId)).toBeDefined();
    const app = await buildWebServer(f.runtime);
    try {
      const archive = await app.inject({ url: '/archive/national/2026-11-24' });
      expect(archive.statusCode).toBe(200);
      expect(archive.body).toContain('National');
    } finally {
      await app.close();
    }
    const status = await editionStatus(f.runtime, editionId);
    expect(status.counts).toMatchObject({ total: 40, sent: 38, failed: 1, skipped: 1, bounced });
    expect(status.history.some((h) => h.event === 'reader-data-dropped')).toBe(true);
    await expect(planResend(f.runtime, editionId, { to: 'reader-13@example.com' })).rejects.toMatchObject({ code: 'refused' });
    // A bounce arriving now changes no count of a finished, forgotten edition.
    await f.runtime.editions.countBounce(editionId, ids[20] as string, 'b');
    expect((await f.runtime.editions.get(editionId))?.bounced).toBe(bounced);
    expect(await redis.exists(keys.editionBounces(editionId))).toBe(0);
    expect(((await scheduler.housekeep()) as LifecycleReport).actions).toEqual([]);
  });
});

describe('compaction interrupted mid-way', () => {
  let f: OpsFixture;
  const id = 'national-2026-11-20';
  const readers = 1500;

  beforeAll(async () => {
    f = await opsFixture('compaction-crash', { readers: 0 });
    const at = new Date('2026-11-20T06:00:00Z');
    await f.runtime.editions.createIfAbsent({ id, newsletterId: 'national', localDate: '2026-11-20', trigger: 'manual', scheduledFor: at, now: at });
    // A ledger as a sent edition leaves it (no need for real sends): every 100th reader failed.
    for (let s = 1; s <= readers; s += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, k) => f.runtime.editions.settle(id, String(s + k), (s + k) % 100 === 0 ? 'f' : 's', (s + k) % 100 === 0 ? '550 5.1.1 gone' : `<${id}.${s + k}.x@daybreak.example>`, at)));
    }
    await setEditionFields(f.runtime, id, { state: 'done', fanoutDone: 1, finishedAt: at.getTime() });
  });
  afterAll(async () => {
    await closeRuntime(f.runtime);
    await f.sink.close();
  });

  test('a crash between pages leaves every reader readable, and a rerun finishes it once', async () => {
    const all = Array.from({ length: readers }, (_, i) => String(i + 1));
    let pages = 0;
    await expect(runLifecycle(f.runtime, { olderThanDays: 0, pageSize: 100, afterPage: () => {
      pages += 1;
      if (pages === 2) throw new Error('worker killed');
    } })).rejects.toThrow('worker killed');
    const { redis, keys } = f.runtime;
    const moved = await redis.bitcount(keys.ledgerSent(id));
    expect(moved).toBeGreaterThan(0);
    expect(moved).toBeLessThan(readers - 15);
    // Half-compacted: every reader still reads as they were, none twice.
    const mid = await f.runtime.editions.ledgerEntries(id, all);
    expect(mid.filter((e) => e?.kind === 'sent')).toHaveLength(readers - 15);
    expect(mid.filter((e) => e?.kind === 'failed')).toHaveLength(15);
    const scanned: string[] = [];
    for await (const e of f.runtime.editions.scanLedger(id)) scanned.push(e.subscriberId);
    expect(new Set(scanned).size).toBe(readers);
    expect(scanned).toHaveLength(readers);
    expect((await f.runtime.editions.get(id))?.compactedAt).toBeUndefined();

    // The rerun, as ops would run it.
    const rerun = await runCli(['editions', 'compact', '--older-than', '0', id], { DAYBREAK_CONFIG: writeConfigFile(f.config, { retention: { ...f.config.retention, readerDataDays: 36_500 } }) });
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toContain(`Compacted ${id}: ${(readers - 15).toLocaleString('en-GB')} reader(s) sent kept as bits, 15 other entries kept with their detail`);
    expect(await redis.bitcount(keys.ledgerSent(id))).toBe(readers - 15);
    expect(await redis.hlen(keys.ledger(id))).toBe(15);
    const history = (await f.runtime.editions.history(id)).filter((h) => h.event === 'compacted');
    expect(history).toEqual([expect.objectContaining({ sent: readers - 15, kept: 15 })]);
    expect((await runLifecycle(f.runtime, { olderThanDays: 0 })).actions).toEqual([]);
  });
});

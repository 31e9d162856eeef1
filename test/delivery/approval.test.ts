import type { Worker } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../../src/app/runtime';
import { FixedClock } from '../../src/core/clock';
import { approvalVerdict, approveEdition, changeStory } from '../../src/delivery/approval';
import { EditionScheduler } from '../../src/delivery/scheduler';
import { createEditionWorker, createSendWorkers } from '../../src/delivery/workers';
import { editionStatus } from '../../src/ops/status';
import { runEditionNow } from '../../src/ops/run-now';
import { buildWebServer } from '../../src/web/server';
import { newslettersWithFeed, writeTestFeed } from '../helpers/feed';
import { closeRuntime, testConfig, testRuntime, uniquePrefix } from '../helpers/runtime';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink';

const editor = 'editor@news.example';

interface Fixture {
  runtime: Runtime;
  sink: SmtpSink;
  clock: FixedClock;
  app: FastifyInstance;
  workers: Worker[];
  scheduler: EditionScheduler;
}

/** A newsletter under the editors' say, three readers, real workers, a real SMTP sink and the web server. */
async function fixture(name: string, approval: 'veto' | 'required'): Promise<Fixture> {
  const sink = await startSmtpSink();
  const feed = writeTestFeed(['2026-11-23', '2026-11-24', '2026-11-25', '2026-11-26']);
  const config = testConfig(uniquePrefix(name), {
    smtpUrl: sink.url,
    newsletters: newslettersWithFeed(feed, { approval, editors: [editor], approvalLeadMinutes: 60 }),
    delivery: { concurrency: 4, smtpMaxConnections: 2, attempts: 2, backoffMs: 50, fanoutPageSize: 25, lockDurationMs: 2000, stalledIntervalMs: 1000 },
  });
  const clock = new FixedClock('2026-11-24T04:30:00Z');
  const runtime = testRuntime(config, { clock });
  for (let i = 1; i <= 3; i++) await runtime.subscribers.add({ email: `reader-${i}@example.com`, newsletters: ['national'], confirmed: true, source: 'test' });
  const workers = [createEditionWorker(runtime), ...createSendWorkers(runtime, { newsletters: ['national'], concurrency: 4 })];
  return { runtime, sink, clock, app: await buildWebServer(runtime), workers, scheduler: new EditionScheduler(runtime) };
}

async function close(f: Fixture): Promise<void> {
  await f.app.close();
  await Promise.all(f.workers.map((w) => w.close()));
  await closeRuntime(f.runtime);
  await f.sink.close();
}

async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Jobs waiting or running in the edition queue and the newsletter's send queues: none means no worker can send anything. */
async function queuedJobs(f: Fixture): Promise<number> {
  const queues = [f.runtime.queues.editions, ...f.runtime.queues.sendQueues('national')];
  const counts = await Promise.all(queues.map((q) => q.getJobCounts('waiting', 'delayed', 'active', 'prioritized', 'waiting-children')));
  return counts.reduce((sum, c) => sum + Object.values(c).reduce((a, b) => a + b, 0), 0);
}

const readersMail = (f: Fixture) => f.sink.messages.filter((m) => m.recipients.some((r) => r.startsWith('reader-')));
const previews = (f: Fixture) => f.sink.messages.filter((m) => m.recipients.includes(editor));

/** The review link of a kind ("Approve", "Hold", "Review, drop or pin stories") in the newest preview. */
async function previewLink(f: Fixture, label: string): Promise<string> {
  const newest = previews(f).at(-1);
  if (!newest) throw new Error('no preview sent');
  const text = (await f.sink.parse(newest)).text ?? '';
  const line = text.split('\n').find((l) => l.startsWith(`${label}: `));
  if (!line) throw new Error(`no "${label}" link in the preview:\n${text.slice(0, 600)}`);
  return new URL(line.slice(label.length + 2).trim()).pathname + new URL(line.slice(label.length + 2).trim()).search;
}

/** Opens a review page and presses one of its buttons, as an editor's browser does. */
async function press(f: Fixture, pagePath: string, action: string, article?: string): Promise<string> {
  const page = await f.app.inject({ url: pagePath });
  expect(page.statusCode).toBe(200);
  const formToken = /name="form_token" value="([^"]+)"/.exec(page.body)?.[1] as string;
  const body = new URLSearchParams({ form_token: formToken, action, ...(article ? { article } : {}) }).toString();
  const res = await f.app.inject({ method: 'POST', url: pagePath, payload: body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  expect(res.statusCode).toBe(200);
  return res.body;
}

/** The scheduler's minute at a given time (the injected clock), then the workers' work it queued. */
async function tickAt(f: Fixture, iso: string) {
  f.clock.set(iso);
  return f.scheduler.tick();
}

test('the approval verdict: wait before the slot; at it, veto goes unless held, required only once approved; never after the window', () => {
  const scheduledFor = new Date('2026-11-24T06:00:00Z');
  const at = (iso: string) => new Date(iso);
  const v = (mode: 'veto' | 'required', decision: 'approved' | 'held' | undefined, now: string) => approvalVerdict({ mode, decision, scheduledFor, now: at(now), sendWindowHours: 3 });
  expect(v('required', 'approved', '2026-11-24T05:59:00Z')).toBe('wait');
  expect(v('required', undefined, '2026-11-24T06:00:00Z')).toBe('unapproved');
  expect(v('required', 'approved', '2026-11-24T06:00:00Z')).toBe('send');
  expect(v('veto', undefined, '2026-11-24T06:00:00Z')).toBe('send');
  expect(v('veto', 'held', '2026-11-24T06:00:00Z')).toBe('held');
  expect(v('required', 'approved', '2026-11-24T09:00:01Z')).toBe('too-late');
});

test('a newsletter under approval needs an editor to send the preview to: the config says which field', async () => {
  const { loadConfig, ConfigError } = await import('../../src/config/load');
  const base = testConfig(uniquePrefix('approval-config'));
  const newsletters = base.newsletters.map((n) => (n.id === 'national' ? { ...n, source: { file: '/dev/null' }, approval: 'required', editors: [] } : { ...n, source: { file: '/dev/null' } }));
  expect(() => loadConfig({ env: {}, overrides: { secret: base.secret, newsletters } })).toThrow(ConfigError);
  expect(() => loadConfig({ env: {}, overrides: { secret: base.secret, newsletters } })).toThrow(/newsletters\.0\.editors: approval "required" needs at least one editor address/);
});

describe('approval: required', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await fixture('approval-required', 'required');
  });
  afterAll(async () => close(f));

  test('built ahead of its slot and previewed to the editors; held at its slot until an editor approves, then sent', async () => {
    const id = 'national-2026-11-24';
    expect((await tickAt(f, '2026-11-24T04:59:00Z')).early).toHaveLength(0);
    // Slot 06:00 minus the 60-minute lead.
    expect((await tickAt(f, '2026-11-24T05:00:00Z')).early.map((r) => r.edition.id)).toEqual([id]);
    await until(async () => (await f.runtime.editions.get(id))?.previewsSentAt !== undefined, 'the preview');
    const built = await f.runtime.editions.get(id);
    expect(built).toMatchObject({ state: 'awaiting-approval', renders: 1 });
    expect(readersMail(f)).toHaveLength(0);
    // The editor's preview: the real edition, marked, story links straight to the articles (not counted).
    expect(previews(f)).toHaveLength(1);
    const preview = await f.sink.parse(previews(f)[0] as SmtpSink['messages'][number]);
    expect(preview.subject).toMatch(/^\[Preview\] National: Tuesday 24 November 2026/);
    expect(preview.html).toContain('Preview for editors, not sent to readers.');
    for (const a of built?.articles ?? []) expect(preview.html).toContain(a.title.replace(/&/g, '&amp;'));
    expect(preview.html).not.toContain('/r/national-2026-11-24/');
    expect(preview.messageId).toMatch(/^<preview\.national-2026-11-24\./);

    // A second tick before the slot changes nothing; at the slot, with no approval, nothing goes.
    expect((await tickAt(f, '2026-11-24T05:30:00Z')).early).toHaveLength(0);
    const atSlot = await tickAt(f, '2026-11-24T06:00:00Z');
    expect(atSlot.approvals).toEqual([{ editionId: id, verdict: 'unapproved', released: false }]);
    // Not released: still held, and no job of it queued anywhere, so no worker can send it.
    expect((await f.runtime.editions.get(id))?.state).toBe('awaiting-approval');
    expect(await queuedJobs(f)).toBe(0);
    expect(readersMail(f)).toHaveLength(0);
    // Ops are told: status note, history, the metrics gauge.
    const status = await editionStatus(f.runtime, id);
    expect(status.notes.join(' ')).toMatch(/Past its slot .* and not sent: no editor has approved or held it \(approval required/);
    expect(status.history.map((h) => h.event)).toContain('approval-overdue');
    expect((await f.app.inject({ url: '/metrics' })).body).toContain('daybreak_editions_awaiting_approval{newsletter="national",overdue="true"} 1');
    // The editors' links expired with the slot.
    expect((await f.app.inject({ url: await previewLink(f, 'Approve') })).statusCode).toBe(410);

    // An editor approves through ops (after the slot, within the window): it goes at once.
    f.clock.set('2026-11-24T06:20:00Z');
    const approved = await approveEdition(f.runtime, id, { by: 'ops:test' });
    expect(approved.released).toBe(true);
    await until(async () => (await f.runtime.editions.get(id))?.state === 'done', 'the edition to be sent');
    expect(readersMail(f).map((m) => m.recipients[0]).sort()).toEqual(['reader-1@example.com', 'reader-2@example.com', 'reader-3@example.com']);
    const events = (await f.runtime.editions.history(id)).map((h) => h.event);
    expect(events).toEqual(expect.arrayContaining(['awaiting-approval', 'preview-sent', 'approval-overdue', 'approved', 'released']));
  });

  test("an editor approves from the preview's link before the slot: it goes at its slot, not before", async () => {
    const id = 'national-2026-11-25';
    const before = readersMail(f).length;
    await tickAt(f, '2026-11-25T05:10:00Z');
    await until(async () => (await f.runtime.editions.get(id))?.previewsSentAt !== undefined, 'the preview');
    f.clock.set('2026-11-25T05:20:00Z');
    // A mail scanner following the link (GET) approves nothing.
    const approveLink = await previewLink(f, 'Approve');
    expect((await f.app.inject({ url: approveLink })).body).toContain('Approve');
    expect((await f.runtime.editions.get(id))?.approval).toBeUndefined();
    expect(await press(f, approveLink, 'approve')).toContain('Approved. It goes at its slot');
    expect((await f.runtime.editions.get(id))).toMatchObject({ state: 'awaiting-approval', approval: 'approved', approvalBy: `editor:${editor}` });
    expect((await tickAt(f, '2026-11-25T05:59:00Z')).approvals[0]?.verdict).toBe('wait');
    expect(readersMail(f).length).toBe(before);
    expect((await tickAt(f, '2026-11-25T06:00:00Z')).approvals).toEqual([{ editionId: id, verdict: 'send', released: true }]);
    await until(async () => (await f.runtime.editions.get(id))?.state === 'done', 'the edition to be sent');
    expect(readersMail(f).length).toBe(before + 3);
  });

  test('approved after its send window: not sent at noon unless ops force it', async () => {
    const id = 'national-2026-11-26';
    await tickAt(f, '2026-11-26T05:30:00Z');
    await until(async () => (await f.runtime.editions.get(id))?.previewsSentAt !== undefined, 'the preview');
    const before = readersMail(f).length;
    f.clock.set('2026-11-26T12:00:00Z');
    const late = await approveEdition(f.runtime, id, { by: 'ops:test' });
    expect(late.released).toBe(false);
    expect(late.next).toMatch(/Too late for its send window .* --force/);
    expect((await tickAt(f, '2026-11-26T12:01:00Z')).approvals[0]?.verdict).toBe('too-late');
    expect((await f.runtime.editions.get(id))?.state).toBe('awaiting-approval');
    const forced = await runEditionNow(f.runtime, { newsletterId: 'national', localDate: '2026-11-26', force: true });
    expect(forced.edition).toMatchObject({ state: 'done', forced: true, sent: 3 });
    expect(readersMail(f).length).toBe(before + 3);
  });
});

describe('approval: veto', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await fixture('approval-veto', 'veto');
  });
  afterAll(async () => close(f));

  test('an editor drops and pins stories: the edition is rendered again once per change, and readers get the changed edition', async () => {
    const id = 'national-2026-11-24';
    await tickAt(f, '2026-11-24T05:00:00Z');
    await until(async () => (await f.runtime.editions.get(id))?.previewsSentAt !== undefined, 'the preview');
    const built = await f.runtime.editions.get(id);
    const [lead, , third, fourth] = built?.articles ?? [];
    expect(built?.renders).toBe(1);
    f.clock.set('2026-11-24T05:10:00Z');
    // Drop story 3 on the review page, then make story 4 the lead from the command line's use case.
    const review = await previewLink(f, 'Review, drop or pin stories');
    const { storyKey } = await import('../../src/mail/edition-links');
    expect(await press(f, review, 'drop', storyKey(third?.id as string))).toContain(`Dropped &quot;${third?.title.replace(/&/g, '&amp;')}&quot;`);
    const dropped = await f.runtime.editions.get(id);
    expect(dropped?.renders).toBe(2);
    // The review page's view of the edition as it stands: without the story, links straight to the articles.
    const asItStands = await f.app.inject({ url: `${review}/edition` });
    expect(asItStands.statusCode).toBe(200);
    expect(asItStands.body).not.toContain(third?.title.replace(/&/g, '&amp;') as string);
    expect(asItStands.body).toContain(lead?.title.replace(/&/g, '&amp;') as string);
    expect(asItStands.body).not.toContain('/r/national-');
    expect(dropped?.articles.map((a) => a.id)).not.toContain(third?.id);
    expect(await f.runtime.redis.zscore(f.runtime.keys.sentArticles('national'), third?.id as string)).toBeNull();
    const pinned = await changeStory(f.runtime, id, { kind: 'pin', story: fourth?.id as string, by: 'ops:test' });
    expect(pinned.changed).toBe(true);
    expect(pinned.edition.renders).toBe(3);
    expect(pinned.edition.articles[0]?.id).toBe(fourth?.id);
    // Pinning the story that leads already renders nothing.
    expect((await changeStory(f.runtime, id, { kind: 'pin', story: '1', by: 'ops:test' })).changed).toBe(false);
    expect((await f.runtime.editions.get(id))?.renders).toBe(3);
    const history = await f.runtime.editions.history(id);
    expect(history.filter((h) => h.event === 'story-dropped')).toEqual([expect.objectContaining({ by: `editor:${editor}`, articleId: third?.id })]);
    expect(history.filter((h) => h.event === 'story-pinned')).toEqual([expect.objectContaining({ by: 'ops:test', articleId: fourth?.id })]);

    // Nobody held it: it goes at its slot, as changed; sending renders nothing more.
    expect((await tickAt(f, '2026-11-24T06:00:00Z')).approvals).toEqual([{ editionId: id, verdict: 'send', released: true }]);
    await until(async () => (await f.runtime.editions.get(id))?.state === 'done', 'the edition to be sent');
    const sent = await f.runtime.editions.get(id);
    expect(sent?.renders).toBe(3);
    expect(readersMail(f)).toHaveLength(3);
    for (const message of readersMail(f)) {
      const parsed = await f.sink.parse(message);
      expect(parsed.text).not.toContain(third?.title as string);
      expect(parsed.text?.indexOf(fourth?.title as string)).toBeLessThan(parsed.text?.indexOf(lead?.title as string) ?? -1);
    }
  });

  test("held through the preview's hold link: it does not go at its slot", async () => {
    const id = 'national-2026-11-25';
    const before = readersMail(f).length;
    await tickAt(f, '2026-11-25T05:00:00Z');
    await until(async () => (await f.runtime.editions.get(id))?.previewsSentAt !== undefined, 'the preview');
    f.clock.set('2026-11-25T05:45:00Z');
    expect(await press(f, await previewLink(f, 'Hold'), 'hold')).toContain('Held. Held: it will not go at its slot unless an editor approves it.');
    expect((await tickAt(f, '2026-11-25T06:00:00Z')).approvals).toEqual([{ editionId: id, verdict: 'held', released: false }]);
    await tickAt(f, '2026-11-25T06:05:00Z');
    expect((await f.runtime.editions.get(id))).toMatchObject({ state: 'awaiting-approval', approval: 'held', approvalBy: `editor:${editor}` });
    expect(await queuedJobs(f)).toBe(0);
    expect(readersMail(f).length).toBe(before);
    const history = await f.runtime.editions.history(id);
    expect(history.find((h) => h.event === 'held-by-editor')).toMatchObject({ by: `editor:${editor}` });
    // A tampered review link is refused.
    const link = await previewLink(f, 'Review, drop or pin stories');
    expect((await f.app.inject({ url: link.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) })).statusCode).toBe(400);
  });
});

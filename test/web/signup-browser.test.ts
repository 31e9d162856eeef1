import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { FixedClock } from '../../src/core/clock';
import { enqueueEdition } from '../../src/delivery/enqueue';
import { runEditionNow } from '../../src/ops/run-now';
import { waitForEdition } from '../../src/ops/watch';
import { createEditionWorker, createSendWorkers } from '../../src/delivery/workers';
import type { Runtime } from '../../src/app/runtime';
import { buildWebServer } from '../../src/web/server';
import { newslettersWithFeed, writeTestFeed } from '../helpers/feed';
import { closeRuntime, testConfig, testRuntime, uniquePrefix } from '../helpers/runtime';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink';
import { launchChromium } from '../helpers/browser';


/**
 * A reader's whole journey in real headless Chromium against the real server on loopback:
 * sign up, confirmation email through SMTP, confirm, get an edition, one-click unsubscribe as a
 * mail client does it, and the next edition skips them.
 */
describe('sign-up in a real browser', () => {
  let sink: SmtpSink;
  let runtime: Runtime;
  let app: FastifyInstance;
  let browser: Browser;
  let base: string;
  // Monday evening: the reader signs up before Tuesday's 06:00 edition.
  const clock = new FixedClock('2026-11-23T20:00:00Z');

  beforeAll(async () => {
    sink = await startSmtpSink();
    const feed = writeTestFeed(['2026-11-24', '2026-11-25', '2026-11-26']);
    runtime = testRuntime(testConfig(uniquePrefix('browser'), { smtpUrl: sink.url, newsletters: newslettersWithFeed(feed) }), { clock });
    app = await buildWebServer(runtime);
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    browser = await launchChromium();
    // Someone else already reads National: the control for "only the leaver is skipped".
    await runtime.subscribers.add({ email: 'colleague@example.com', newsletters: ['national'], confirmed: true, source: 'test' });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await closeRuntime(runtime);
    await sink.close();
  });

  /** Links in emails use PUBLIC_URL; the browser goes to the same path on the test server. */
  const onServer = (link: string) => `${base}${new URL(link).pathname}`;

  async function openForm(width: number): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    await page.goto(`${base}/subscribe`);
    return page;
  }

  // The screenshots in docs/ come from `npm run screenshots`, never from a test: tests write no tracked file.
  test('the form at 375 px and 1280 px: nothing overflows, the honeypot is out of sight', async () => {
    for (const width of [375, 1280]) {
      const page = await openForm(width);
      // No horizontal scrolling on a phone or a desktop.
      expect(Number(await page.evaluate('document.documentElement.scrollWidth'))).toBeLessThanOrEqual(width);
      // The honeypot is out of sight and out of the tab order.
      const hp = page.locator('input[name="leave_blank"]');
      expect(await hp.isVisible()).toBe(true); // present for bots…
      const box = await hp.boundingBox();
      expect((box?.x ?? 0) + (box?.width ?? 0)).toBeLessThanOrEqual(0); // …but off-screen for people
      await page.close();
    }
  });

  test('keyboard order and errors: empty submit lands on the error summary, values kept', async () => {
    const page = await openForm(375);
    await page.getByLabel('Email address').focus();
    await page.keyboard.press('Tab');
    expect(await page.locator(':focus').getAttribute('id')).toBe('name');
    await page.keyboard.press('Tab');
    expect(await page.locator(':focus').getAttribute('id')).toBe('nl-national');
    await page.getByLabel('Email address').fill('not-an-address');
    await page.getByLabel(/First name/).fill('Ada');
    await page.getByRole('button', { name: 'Sign up for free' }).click();
    await page.waitForLoadState();
    expect(await page.title()).toMatch(/^Error: /);
    const summary = page.getByRole('alert');
    expect(await summary.textContent()).toContain('Enter an email address in the form name@example.com');
    expect(await page.locator(':focus').getAttribute('class')).toBe('error-summary');
    expect(await page.getByLabel('Email address').inputValue()).toBe('not-an-address');
    expect(await page.getByLabel(/First name/).inputValue()).toBe('Ada');
    await page.screenshot({ path: path.join(os.tmpdir(), 'daybreak-signup-errors-375.png'), fullPage: true });
    await page.close();
  });

  test('sign up, confirm from the email, receive an edition, one-click unsubscribe, next edition skips them', async () => {
    const page = await openForm(1280);
    await page.getByLabel('Email address').fill('Reader.One@Example.com');
    await page.getByLabel(/First name/).fill('Nia');
    await page.getByRole('checkbox', { name: /North East/ }).check();
    expect(await page.getByRole('checkbox', { name: /^National/ }).isChecked()).toBe(true);
    await page.getByRole('button', { name: 'Sign up for free' }).click();
    await page.getByRole('heading', { name: 'Check your inbox' }).waitFor();
    expect(await page.locator('main').textContent()).toContain('Reader.One@Example.com');

    await sink.waitForCount(1);
    const mail = await sink.parse(sink.messages[0]!);
    expect(sink.messages[0]!.recipients).toEqual(['reader.one@example.com']);
    expect(mail.subject).toBe('Confirm your subscription to Daybreak Business News');
    const confirmLink = /https?:\/\/\S+\/confirm\/\S+/.exec(mail.text ?? '')?.[0] as string;
    expect(mail.html).toContain(new URL(confirmLink).pathname);

    clock.set('2026-11-23T20:05:00Z');
    await page.goto(onServer(confirmLink));
    await page.getByRole('heading', { name: "You're subscribed" }).waitFor();
    const confirmedText = (await page.locator('main').textContent()) ?? '';
    expect(confirmedText).toContain('National');
    expect(confirmedText).toContain('North East');
    await page.screenshot({ path: path.join(os.tmpdir(), 'daybreak-confirmed-1280.png'), fullPage: true });
    const reader = await runtime.subscribers.findByEmail('reader.one@example.com');
    expect(reader).toMatchObject({ status: 'confirmed', name: 'Nia', newsletters: ['national', 'north-east'] });

    // Tuesday's edition reaches them, with a one-click header.
    clock.set('2026-11-24T06:00:00Z');
    const tuesday = await runEditionNow(runtime, { newsletterId: 'national', localDate: '2026-11-24' });
    expect(tuesday.edition.sent).toBe(2);
    // Their edition copy (not the confirmation, nor the welcome sent on confirming).
    const copy = sink.messages.find((m) => m.recipients.includes('reader.one@example.com') && /^Message-ID: <national-2026-11-24\./m.test(m.raw.toString('latin1')));
    expect(copy).toBeDefined();
    const raw = copy!.raw.toString('latin1').replace(/\r\n\s+/g, ' ');
    expect(raw).toMatch(/List-Unsubscribe-Post: List-Unsubscribe=One-Click/i);
    const unsubscribeLink = /List-Unsubscribe:\s*<([^>]+)>/i.exec(raw)?.[1] as string;

    // 06:30: the reader's mail client posts the one-click body. No cookie, no browser, no form token.
    clock.set('2026-11-24T06:30:00Z');
    const response = await fetch(onServer(unsubscribeLink), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    expect(response.status).toBe(200);
    expect(await runtime.subscribers.get(reader!.id)).toMatchObject({ status: 'unsubscribed', newsletters: [] });

    // Wednesday's edition skips them; the colleague still gets it.
    clock.set('2026-11-25T06:00:00Z');
    const before = sink.messages.length;
    const wednesday = await runEditionNow(runtime, { newsletterId: 'national', localDate: '2026-11-25' });
    const sentTo = sink.messages.slice(before).flatMap((m) => m.recipients);
    expect(sentTo).toEqual(['colleague@example.com']);
    expect(wednesday.edition.sent).toBe(1);

    // The unsubscribe page they might open later says so, and offers preferences.
    await page.goto(onServer(unsubscribeLink));
    expect(await page.locator('main').textContent()).toContain('is not subscribed to any of our newsletters');
    await page.close();
  });

  test('a one-click POST at 06:01 stops the copy queued at 06:00', async () => {
    clock.set('2026-11-26T06:00:00Z');
    const { edition } = await enqueueEdition(runtime, { newsletterId: 'national', localDate: '2026-11-26', trigger: 'manual' });
    // Build and fan out with no send workers: the colleague's job waits in the queue.
    const builder = createEditionWorker(runtime);
    try {
      for (let i = 0; i < 100 && !(await runtime.editions.get(edition.id))?.fanoutDone; i++) await new Promise((r) => setTimeout(r, 100));
    } finally {
      await builder.close();
    }
    expect((await runtime.editions.get(edition.id))?.fanoutDone).toBe(true);
    const colleague = await runtime.subscribers.findByEmail('colleague@example.com');
    const token = runtime.signer.sign({ purpose: 'unsubscribe', subscriberId: colleague!.id, expiresAt: 0 });
    clock.set('2026-11-26T06:01:00Z');
    const response = await fetch(`${base}/unsubscribe/${token}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    expect(response.status).toBe(200);
    const before = sink.messages.length;
    const senders = createSendWorkers(runtime, { newsletters: ['national'] });
    try {
      const done = await waitForEdition(runtime, edition.id, { timeoutMs: 20_000 });
      expect(done).toMatchObject({ state: 'done', sent: 0, skipped: 1 });
      expect(sink.messages.length).toBe(before);
      expect((await runtime.editions.ledgerEntry(edition.id, colleague!.id))?.detail).toContain('unsubscribed');
    } finally {
      await Promise.all(senders.map((w) => w.close()));
    }
  });
});

import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { FixedClock } from '../../src/core/clock';
import type { Runtime } from '../../src/app/runtime';
import { preferencesUrl } from '../../src/mail/personalise';
import { settleSignups } from '../../src/subscribers/signup';
import { settleWelcomes } from '../../src/subscribers/welcome';
import { buildWebServer } from '../../src/web/server';
import { closeRuntime, testConfig, testRuntime, uniquePrefix } from '../helpers/runtime';
import { newslettersWithFeed, writeTestFeed } from '../helpers/feed';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink';
import { launchChromium } from '../helpers/browser';
import { encode, form, formToken } from '../helpers/forms';


describe('a reader\'s time zone on the sign-up and preferences pages', () => {
  let sink: SmtpSink;
  let runtime: Runtime;
  let app: FastifyInstance;
  const clock = new FixedClock('2026-11-24T09:00:00Z');

  beforeAll(async () => {
    sink = await startSmtpSink();
    // National is sent at 06:00 in each reader's own zone; the regional editions are not.
    const newsletters = newslettersWithFeed(writeTestFeed(['2026-11-24']), { delivery: 'reader-zone' });
    runtime = testRuntime(testConfig(uniquePrefix('web-tz'), { smtpUrl: sink.url, newsletters }), { clock });
    app = await buildWebServer(runtime);
  });
  afterEach(async () => {
    await settleSignups(runtime);
    await settleWelcomes(runtime);
  });
  afterAll(async () => {
    await app.close();
    await closeRuntime(runtime);
    await sink.close();
  });

  test('the form offers every IANA zone in a select list; its one inline script is allowed by a nonce and nothing else', async () => {
    const page = await app.inject({ method: 'GET', url: '/subscribe' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<select id="timezone" name="timezone"');
    expect(page.body).toContain('<option value="" selected>The newsletter\'s time zone</option>');
    expect(page.body).toContain('<option value="Asia/Singapore">Singapore</option>');
    expect(page.body).toContain('<option value="America/Argentina/La_Rioja">Argentina / La Rioja</option>');
    expect(page.body).toContain('<optgroup label="Other"><option value="UTC">UTC</option></optgroup>');
    const nonce = /<script nonce="([^"]+)">/.exec(page.body)?.[1];
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    expect(page.body.match(/<script/g)).toHaveLength(1);
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain(`script-src 'nonce-${nonce}'`);
    expect(csp).not.toMatch(/unsafe-inline'[^;]*script|script-src[^;]*unsafe/);
    // A fresh nonce per page.
    const again = await app.inject({ method: 'GET', url: '/subscribe' });
    expect(/<script nonce="([^"]+)">/.exec(again.body)?.[1]).not.toBe(nonce);
  });

  test('a sign-up keeps the chosen zone; a zone that is none is refused with a line saying what to do', async () => {
    const token = formToken((await app.inject({ method: 'GET', url: '/subscribe' })).body);
    const bad = await app.inject({ method: 'POST', url: '/subscribe', headers: form, payload: encode({ form_token: token, email: 'tz@example.com', newsletters: 'national', timezone: 'Mars/Olympus_Mons' }) });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('Choose your time zone from the list, or leave it as the newsletter');
    expect(bad.body).toContain('aria-invalid="true"');

    const ok = await app.inject({ method: 'POST', url: '/subscribe', headers: form, payload: encode({ form_token: formToken(bad.body), email: 'tz@example.com', newsletters: 'national', timezone: 'asia/singapore' }) });
    expect(ok.statusCode).toBe(200);
    await settleSignups(runtime);
    const reader = await runtime.subscribers.findByEmail('tz@example.com');
    expect(reader?.timezone).toBe('Asia/Singapore');
    // It counts in National's zone index once confirmed (the fan-out's wave for Singapore pages it).
    expect((await runtime.subscribers.memberZones('national')).zones.get('Asia/Singapore') ?? 0).toBe(0);
    await runtime.subscribers.confirm(reader!.id);
    expect((await runtime.subscribers.memberZones('national')).zones.get('Asia/Singapore')).toBe(1);
  });

  test('the preferences page shows the reader\'s zone, changes it and clears it', async () => {
    const { subscriber } = await runtime.subscribers.add({ email: 'prefs-tz@example.com', timezone: 'America/New_York', newsletters: ['national'], confirmed: true, source: 'test' });
    const path = new URL(preferencesUrl(runtime.config.publicUrl, runtime.signer, subscriber.id)).pathname;
    const page = await app.inject({ method: 'GET', url: path });
    expect(page.body).toContain('<option value="America/New_York" selected>');
    const save = (timezone: string, token: string) => app.inject({ method: 'POST', url: path, headers: form, payload: encode({ form_token: token, name: '', newsletters: 'national', action: 'save', timezone }) });
    const moved = await save('Europe/Paris', formToken(page.body));
    expect(moved.statusCode).toBe(200);
    expect((await runtime.subscribers.get(subscriber.id))?.timezone).toBe('Europe/Paris');
    expect((await runtime.subscribers.memberZones('national')).zones.get('Europe/Paris')).toBe(1);
    expect((await runtime.subscribers.memberZones('national')).zones.get('America/New_York') ?? 0).toBe(0);
    const cleared = await save('', formToken(moved.body));
    expect(cleared.statusCode).toBe(200);
    expect((await runtime.subscribers.get(subscriber.id))?.timezone).toBeUndefined();
    expect((await runtime.subscribers.history(subscriber.id)).filter((h) => h.event === 'time zone changed')).toHaveLength(2);
  });

  test('pages of an install with no newsletter sent in readers\' zones stay script-free', async () => {
    const plain = testRuntime(testConfig(uniquePrefix('web-tz-none')), { clock });
    const plainApp = await buildWebServer(plain);
    try {
      const page = await plainApp.inject({ method: 'GET', url: '/subscribe' });
      expect(page.body).not.toContain('<script');
      expect(page.body).not.toContain('name="timezone"');
      expect(String(page.headers['content-security-policy'])).not.toContain('script-src');
    } finally {
      await plainApp.close();
      await closeRuntime(plain);
    }
  });

  describe('in real headless Chromium', () => {
    let browser: Browser;
    let base: string;
    beforeAll(async () => {
      await app.listen({ port: 0, host: '127.0.0.1' });
      base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
      browser = await launchChromium();
    });
    afterAll(async () => {
      await browser?.close();
    });

    test("the browser's own zone is the suggestion (the script runs under the page's CSP), and a reader can pick another", async () => {
      const context = await browser.newContext({ timezoneId: 'Asia/Singapore' });
      const page = await context.newPage();
      const violations: string[] = [];
      page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()); });
      await page.goto(`${base}/subscribe`);
      expect(await page.locator('#timezone').inputValue()).toBe('Asia/Singapore');
      expect(violations).toEqual([]);
      await page.getByLabel('Email address').fill('browser-tz@example.com');
      await page.locator('#timezone').selectOption('Australia/Sydney');
      await page.getByRole('button', { name: 'Sign up for free' }).click();
      await page.getByRole('heading', { name: 'Check your inbox' }).waitFor();
      await settleSignups(runtime);
      expect((await runtime.subscribers.findByEmail('browser-tz@example.com'))?.timezone).toBe('Australia/Sydney');
      await context.close();
    });
  });
});

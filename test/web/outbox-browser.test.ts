import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { simpleParser } from 'mailparser';
import type { Browser } from 'playwright-core';
import { FixedClock } from '../../src/core/clock';
import { localiseSampleImages, writeOutboxIndex } from '../../src/ops/outbox-index';
import { runEditionNow } from '../../src/ops/run-now';
import type { Runtime } from '../../src/app/runtime';
import { closeRuntime, testConfig, testRuntime, uniquePrefix } from '../helpers/runtime';
import { launchChromium } from '../helpers/browser';


/**
 * What a newcomer opens after `npm run demo`: outbox/<edition>/index.html and each message's
 * .html, from disk, with no web server running. Every picture must show; the .eml files keep
 * the public URLs a real send has.
 */
describe('the demo outbox in a real browser, with no server', () => {
  let runtime: Runtime;
  let browser: Browser;
  let outbox: string;
  let folder: string;
  const editionId = 'national-2026-11-24';

  beforeAll(async () => {
    outbox = fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-outbox-'));
    // The shipped config: the sample feed, no SMTP_URL (so the outbox transport), PUBLIC_URL on a port nothing listens on.
    runtime = testRuntime(testConfig(uniquePrefix('outbox-browser'), { outboxDir: outbox, publicUrl: 'http://127.0.0.1:9' }), { clock: new FixedClock('2026-11-24T06:00:00Z') });
    for (const email of ['ada@example.com', 'bob@example.com']) await runtime.subscribers.add({ email, newsletters: ['national'], confirmed: true, source: 'test' });
    const result = await runEditionNow(runtime, { newsletterId: 'national', localDate: '2026-11-24' });
    expect(result.edition.state).toBe('done');
    folder = path.join(outbox, editionId);
    await writeOutboxIndex(outbox, editionId, { publicUrl: runtime.config.publicUrl });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await closeRuntime(runtime);
    fs.rmSync(outbox, { recursive: true, force: true });
  });

  test('every message page shows its pictures from images/ beside it; the .eml keeps the public URL', async () => {
    const htmlFiles = fs.readdirSync(folder).filter((f) => /^\d+\.html$/.test(f));
    expect(htmlFiles).toHaveLength(2);
    const eml = await simpleParser(fs.readFileSync(path.join(folder, htmlFiles[0].replace(/\.html$/, '.eml'))));
    expect(eml.html).toMatch(/<img\s[^>]*src="http:\/\/127\.0\.0\.1:9\/static\/samples\/images\/[a-z-]+\.png"/);
    const page = await browser.newPage({ viewport: { width: 700, height: 900 } });
    for (const file of htmlFiles) {
      const html = fs.readFileSync(path.join(folder, file), 'utf8');
      expect(html).not.toContain('/static/samples/images/');
      expect(html).toMatch(/src="images\/[a-z-]+\.png"/);
      await page.goto(pathToFileURL(path.join(folder, file)).href);
      const images = (await page.evaluate(
        'Array.from(document.images).map((i) => ({ src: i.getAttribute("src"), complete: i.complete, width: i.naturalWidth }))',
      )) as Array<{ src: string; complete: boolean; width: number }>;
      expect(images.length).toBeGreaterThanOrEqual(1);
      for (const image of images) expect(image).toMatchObject({ complete: true, width: 1200 });
    }
    await page.close();
  });

  test('the index links every message and says how to make links live', async () => {
    const page = await browser.newPage();
    await page.goto(pathToFileURL(path.join(folder, 'index.html')).href);
    expect(await page.locator('a', { hasText: 'view' }).count()).toBe(2);
    const note = await page.locator('p.note').innerText();
    expect(note).toContain('http://127.0.0.1:9');
    expect(note).toContain('npx daybreak serve');
    const broken = (await page.evaluate('Array.from(document.images).filter((i) => !i.complete || i.naturalWidth === 0).length')) as number;
    expect(broken).toBe(0);
    await page.close();
  });
});

describe('localiseSampleImages', () => {
  test('rewrites only sample-image srcs whose file exists, on any host; leaves everything else', () => {
    const available = new Set(['chart.png']);
    const html = '<img src="http://localhost:3000/static/samples/images/chart.png"><img src="https://news.example/static/samples/images/chart.png">' +
      '<img src="https://news.example/static/samples/images/missing.png"><img src="https://cdn.example/chart.png"><a href="http://localhost:3000/static/samples/images/chart.png">x</a>' +
      '<img src="http://localhost:3000/static/samples/images/../secret.png"><img src="unterminated';
    const out = localiseSampleImages(html, available);
    expect(out.files).toEqual(['chart.png']);
    expect(out.html).toBe('<img src="images/chart.png"><img src="images/chart.png">' +
      '<img src="https://news.example/static/samples/images/missing.png"><img src="https://cdn.example/chart.png"><a href="http://localhost:3000/static/samples/images/chart.png">x</a>' +
      '<img src="http://localhost:3000/static/samples/images/../secret.png"><img src="unterminated');
  });
});

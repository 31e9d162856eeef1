/**
 * Regenerates the screenshots in docs/ from the real pages in headless Chromium (never from a
 * test: tests write no tracked file). Needs Redis (REDIS_URL) and /usr/bin/chromium.
 *   npm run screenshots
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { chromium } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../src/config/load';
import { silentLogger } from '../src/core/logger';
import { localDateOf } from '../src/delivery/schedule';
import { Runtime } from '../src/app/runtime';
import type { MailTransport } from '../src/mail/transports';
import { runEditionNow } from '../src/ops/run-now';
import { buildWebServer } from '../src/web/server';

const docs = path.join(__dirname, '..', 'docs');
const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** The demo's messages go nowhere: the report only needs them counted. */
const discard: MailTransport = {
  description: 'discarded (screenshots)',
  send: async () => ({ response: '250 discarded' }),
  verify: async () => undefined,
  close: async () => undefined,
};

/**
 * An edition with something to report, made the way production makes it: readers, a real build
 * and send, a hard and a soft bounce, a complaint, one-click unsubscribes from its links, and
 * story clicks from readers and from a link scanner. Returns the report page's path.
 */
async function seedReport(runtime: Runtime, app: FastifyInstance): Promise<string> {
  const ids: string[] = [];
  for (let i = 1; i <= 60; i++) ids.push((await runtime.subscribers.add({ email: `reader-${i}@example.com`, newsletters: ['national'], confirmed: true, source: 'screenshots' })).subscriber.id);
  const localDate = localDateOf(runtime.clock.now(), 'Europe/London');
  const { edition } = await runEditionNow(runtime, { newsletterId: 'national', localDate });
  const at = runtime.clock.now();
  const hints = (n: number) => ({ send: { editionId: edition.id, subscriberId: ids[n] as string }, verpAddresses: [], messageIds: [] });
  await runtime.bouncePolicy.record({ id: 'dsn:shot:1', source: 'dsn', kind: 'hard', email: 'reader-7@example.com', hints: hints(6), status: '5.1.1', at });
  await runtime.bouncePolicy.record({ id: 'dsn:shot:2', source: 'dsn', kind: 'soft', email: 'reader-8@example.com', hints: hints(7), status: '4.2.2', at });
  await runtime.bouncePolicy.record({ id: 'mailgun:shot:3', source: 'mailgun', kind: 'complaint', email: 'reader-9@example.com', hints: hints(8), at });
  for (const n of [20, 21]) {
    const unsubscribe = `/unsubscribe/${runtime.signer.sign({ purpose: 'unsubscribe', subscriberId: ids[n] as string, expiresAt: 0 })}?e=${runtime.signer.editionLinks.editionRef(edition.id, ids[n] as string)}`;
    await app.inject({ method: 'POST', url: unsubscribe, payload: 'List-Unsubscribe=One-Click', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  }
  const links = edition.articles.map((a) => runtime.signer.editionLinks.clickPath(edition.id, a.id));
  const browser = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';
  // Readers: more on the lead and a couple of stories, a long tail; each from their own address.
  const readers = [23, 9, 17, 4, 12, 6, 3, 8, 2, 5, 1, 0];
  let client = 0;
  for (const [i, count] of readers.entries()) {
    for (let k = 0; k < count && links[i]; k++) await app.inject({ url: links[i] as string, remoteAddress: `198.51.100.${(client++ % 250) + 1}`, headers: { 'user-agent': browser } });
  }
  // A mail gateway following every link, and a chat preview.
  for (const link of links) await app.inject({ url: link, remoteAddress: '192.0.2.10', headers: { 'user-agent': browser } });
  await app.inject({ url: links[0] as string, remoteAddress: '192.0.2.20', headers: { 'user-agent': 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)' } });
  return `/ops/editions/${edition.id}/report`;
}

/** Each page to capture: its path on the server (or how to make one), the widths, and the file name stem in docs/. */
const shots: Array<{ path: string | ((runtime: Runtime, app: FastifyInstance) => Promise<string>); widths: number[]; name: string }> = [
  { path: '/subscribe', widths: [375, 1280], name: 'signup' },
  { path: seedReport, widths: [1280], name: 'report' },
];

async function main(): Promise<void> {
  const prefix = `screenshots-${crypto.randomBytes(4).toString('hex')}`;
  const runtime = new Runtime(loadConfig({ overrides: { redisPrefix: prefix, publicUrl: 'http://localhost:3000' } }), { logger: silentLogger, transport: discard });
  const app = await buildWebServer(runtime);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs });
  try {
    for (const shot of shots) {
      const where = typeof shot.path === 'string' ? shot.path : await shot.path(runtime, app);
      for (const width of shot.widths) {
        const page = await browser.newPage({ viewport: { width, height: 900 } });
        await page.goto(`${base}${where}`);
        const file = path.join(docs, `${shot.name}-${width}.png`);
        await page.screenshot({ path: file, fullPage: true });
        console.log(`wrote ${path.relative(process.cwd(), file)}`);
        await page.close();
      }
    }
  } finally {
    await browser.close();
    await app.close();
    await runtime.deleteAllKeys();
    await runtime.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

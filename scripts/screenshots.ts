/**
 * Regenerates the screenshots in docs/ from the real pages in headless Chromium (never from a
 * test: tests write no tracked file). Needs Redis (REDIS_URL) and /usr/bin/chromium.
 *   npm run screenshots
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { loadConfig } from '../src/config/load';
import { silentLogger } from '../src/core/logger';
import { Runtime } from '../src/delivery/runtime';
import { buildWebServer } from '../src/web/server';

const docs = path.join(__dirname, '..', 'docs');
const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Each page to capture: its path on the server, the widths, and the file name stem in docs/. */
const shots: Array<{ path: string; widths: number[]; name: string }> = [
  { path: '/subscribe', widths: [375, 1280], name: 'signup' },
];

async function main(): Promise<void> {
  const prefix = `screenshots-${crypto.randomBytes(4).toString('hex')}`;
  const runtime = new Runtime(loadConfig({ overrides: { redisPrefix: prefix, publicUrl: 'http://localhost:3000' } }), { logger: silentLogger });
  const app = await buildWebServer(runtime);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs });
  try {
    for (const shot of shots) {
      for (const width of shot.widths) {
        const page = await browser.newPage({ viewport: { width, height: 900 } });
        await page.goto(`${base}${shot.path}`);
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

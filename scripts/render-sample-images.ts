/** Makes the raster copies (PNG) of the sample illustrations that emails use: Gmail's webmail and Outlook for Windows show no SVG. */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

/**
 * Rerun after editing or adding an SVG in samples/images/, then commit the PNGs:
 *
 *   node --import tsx scripts/render-sample-images.ts
 *
 * Each `name.svg` (600x300) becomes `name.png` at twice the size (1200x600), so the email's
 * 552 px lead image stays sharp on high-density screens. Debian's Chromium draws them
 * (CHROMIUM_PATH overrides /usr/bin/chromium); the SVGs stay as the sources.
 */

const imagesDir = path.join(__dirname, '..', 'samples', 'images');
const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'];
const SCALE = 2;

/** The SVG's own width and height attributes (the samples all declare them). */
function svgSize(svg: string, file: string): { width: number; height: number } {
  const open = svg.slice(0, svg.indexOf('>') + 1);
  const width = Number(/\swidth="(\d+)"/.exec(open)?.[1]);
  const height = Number(/\sheight="(\d+)"/.exec(open)?.[1]);
  if (!width || !height) throw new Error(`${file}: the <svg> element needs numeric width and height attributes`);
  return { width, height };
}

async function main(): Promise<void> {
  const files = fs.readdirSync(imagesDir).filter((f) => f.endsWith('.svg')).sort();
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: chromiumArgs });
  try {
    for (const file of files) {
      const source = path.join(imagesDir, file);
      const { width, height } = svgSize(fs.readFileSync(source, 'utf8'), file);
      const page = await browser.newPage({ viewport: { width, height }, deviceScaleFactor: SCALE });
      await page.goto(pathToFileURL(source).href);
      const target = path.join(imagesDir, file.replace(/\.svg$/, '.png'));
      await page.screenshot({ path: target, type: 'png', clip: { x: 0, y: 0, width, height } });
      await page.close();
      console.log(`${path.relative(process.cwd(), target)}: ${width * SCALE}x${height * SCALE}, ${(fs.statSync(target).size / 1024).toFixed(1)} KB`);
    }
  } finally {
    await browser.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});

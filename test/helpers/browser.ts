/** Debian's Chromium, headless, for the tests that look at pages the way a reader's browser does. */
import { chromium, type Browser } from 'playwright-core';

/** Headless, and quiet on the network: no background fetches, no QUIC, nothing but the pages asked for. */
const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs });
}

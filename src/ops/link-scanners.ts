/** Who follows links without being a reader: HEAD requests and the user agents of link scanners and unfurlers (pure). */

/**
 * Lower-case fragments of user agents that are machines, not readers. Maintained by hand: add
 * one when a report shows a scanner counted as human (the burst rule catches most of the rest).
 * Security gateways rewrite or pre-fetch every link in a message before the reader sees it;
 * chat apps fetch a link to draw its preview card; scripts and libraries name themselves.
 */
export const LINK_SCANNER_AGENTS: ReadonlyArray<{ fragment: string; who: string }> = [
  // Mail security gateways and link checkers
  { fragment: 'safelinks', who: 'Microsoft Defender Safe Links' },
  { fragment: 'ms-office', who: 'Microsoft Office link check' },
  { fragment: 'microsoft office', who: 'Microsoft Office link check' },
  { fragment: 'bingpreview', who: 'Microsoft Bing preview' },
  { fragment: 'microsoftpreview', who: 'Microsoft link preview' },
  { fragment: 'proofpoint', who: 'Proofpoint URL Defense' },
  { fragment: 'urldefense', who: 'Proofpoint URL Defense' },
  { fragment: 'mimecast', who: 'Mimecast' },
  { fragment: 'barracuda', who: 'Barracuda' },
  { fragment: 'trendmicro', who: 'Trend Micro' },
  { fragment: 'trend micro', who: 'Trend Micro' },
  { fragment: 'symantec', who: 'Symantec' },
  { fragment: 'sophos', who: 'Sophos' },
  { fragment: 'fireeye', who: 'FireEye' },
  { fragment: 'forcepoint', who: 'Forcepoint' },
  { fragment: 'zscaler', who: 'Zscaler' },
  { fragment: 'cloudmark', who: 'Cloudmark' },
  { fragment: 'spamtitan', who: 'SpamTitan' },
  { fragment: 'cisco', who: 'Cisco email security' },
  { fragment: 'ironport', who: 'Cisco IronPort' },
  { fragment: 'checkpoint', who: 'Check Point' },
  { fragment: 'virustotal', who: 'VirusTotal' },
  // Google
  { fragment: 'google-safety', who: 'Google Safe Browsing' },
  { fragment: 'googleimageproxy', who: 'Google image proxy' },
  { fragment: 'googlebot', who: 'Googlebot' },
  { fragment: 'google-read-aloud', who: 'Google Read Aloud' },
  { fragment: 'google web preview', who: 'Google web preview' },
  { fragment: 'apis-google', who: 'Google APIs' },
  { fragment: 'google-inspectiontool', who: 'Google inspection tool' },
  { fragment: 'feedfetcher-google', who: 'Google feed fetcher' },
  // Chat apps that unfurl links
  { fragment: 'slackbot', who: 'Slack unfurler' },
  { fragment: 'slack-imgproxy', who: 'Slack image proxy' },
  { fragment: 'skypeuripreview', who: 'Microsoft Teams / Skype preview' },
  { fragment: 'discordbot', who: 'Discord unfurler' },
  { fragment: 'whatsapp', who: 'WhatsApp preview' },
  { fragment: 'telegrambot', who: 'Telegram preview' },
  { fragment: 'facebookexternalhit', who: 'Facebook preview' },
  { fragment: 'twitterbot', who: 'X/Twitter preview' },
  { fragment: 'linkedinbot', who: 'LinkedIn preview' },
  { fragment: 'applebot', who: 'Applebot' },
  { fragment: 'bingbot', who: 'Bingbot' },
  // Scripts, libraries and headless browsers
  { fragment: 'curl/', who: 'curl' },
  { fragment: 'wget', who: 'Wget' },
  { fragment: 'python-requests', who: 'python-requests' },
  { fragment: 'python-urllib', who: 'Python urllib' },
  { fragment: 'aiohttp', who: 'aiohttp' },
  { fragment: 'httpx', who: 'HTTPX' },
  { fragment: 'go-http-client', who: 'Go net/http' },
  { fragment: 'okhttp', who: 'OkHttp' },
  { fragment: 'java/', who: 'Java' },
  { fragment: 'apache-httpclient', who: 'Apache HttpClient' },
  { fragment: 'libwww-perl', who: 'libwww-perl' },
  { fragment: 'node-fetch', who: 'node-fetch' },
  { fragment: 'axios', who: 'axios' },
  { fragment: 'undici', who: 'undici' },
  { fragment: 'postmanruntime', who: 'Postman' },
  { fragment: 'headlesschrome', who: 'headless Chrome' },
  { fragment: 'phantomjs', who: 'PhantomJS' },
  // The generic words crawlers put in their names
  { fragment: 'bot/', who: 'a bot' },
  { fragment: 'crawler', who: 'a crawler' },
  { fragment: 'spider', who: 'a spider' },
  { fragment: 'scanner', who: 'a scanner' },
];

/** The longest user agent looked at: longer ones are cut (the route already bounds it). */
const MAX_AGENT = 512;

/**
 * Why a request to a story link is not a reader's click, or undefined when it may be one (the
 * burst rule still applies). Linear in the user agent's length: a fixed list of substring checks.
 */
export function automatedReason(request: { method: string; userAgent?: string }): string | undefined {
  if (request.method === 'HEAD') return 'HEAD request';
  const agent = (request.userAgent ?? '').slice(0, MAX_AGENT).toLowerCase();
  if (agent.trim() === '') return 'no user agent';
  for (const { fragment, who } of LINK_SCANNER_AGENTS) if (agent.includes(fragment)) return who;
  return undefined;
}

/** Distinct stories one client must follow within the window to be a scanner: more than half the edition's, and at least 3. */
export function burstThreshold(stories: number): number {
  return Math.max(3, Math.floor(stories / 2) + 1);
}

/** "Within a few seconds": the burst rule's window. */
export const BURST_WINDOW_MS = 10_000;

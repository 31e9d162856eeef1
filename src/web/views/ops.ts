/** The HTML of the ops pages: the list of editions and an edition's report (aggregate figures only). */
import type { Edition } from '../../delivery/edition';
import type { EditionReport } from '../../ops/report';
import { escapeHtml } from '../../render/slots';
import type { View } from './subscriptions';

const e = escapeHtml;
const num = (value: number) => value.toLocaleString('en-GB');
const pct = (part: number, whole: number) => (whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '–');

/** Wider pages with tables: added to the shared page shell for the ops pages only. */
export const OPS_PAGE_STYLE = `
  header.masthead p, main, footer { max-width: 62rem; }
  table { border-collapse: collapse; width: 100%; margin: .5rem 0 1.5rem; font-size: .95rem; }
  th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid #e3e1da; vertical-align: top; }
  th { font-size: .8rem; text-transform: uppercase; letter-spacing: .06em; color: #55595e; }
  td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
  .figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(7.5rem, 1fr)); gap: .75rem; margin: 1rem 0 1.75rem; }
  .figure { border: 1px solid #d8d6cf; border-radius: 4px; padding: .7rem .85rem; }
  .figure b { display: block; font: normal 1.7rem/1.2 Georgia, "Times New Roman", serif; color: #0b2a4a; }
  .figure span { color: #55595e; font-size: .85rem; }
  .bar { display: block; height: .55rem; background: #0b4f8a; border-radius: 2px; min-width: 1px; margin-top: .3rem; }
  .bar.auto { background: #b9b6ac; }
  .story-title { font-weight: 700; color: #0b2a4a; }
  .state { display: inline-block; padding: .1rem .5rem; border-radius: 3px; background: #e8eef5; font-size: .85rem; }
`;

function figure(value: string, label: string): string {
  return `<div class="figure"><b>${e(value)}</b><span>${e(label)}</span></div>`;
}

/** `localTime` formats an instant in the newsletter's zone; `localClock` only its time of day. */
export function reportView(r: EditionReport, localTime: (iso: string) => string, localClock: (iso: string) => string = localTime): View {
  const d = r.delivery;
  const figures = [
    figure(num(d.sent), `sent of ${num(d.total)}`),
    figure(num(d.failed), 'failed'),
    figure(num(d.bounced.total), `bounced (${num(d.bounced.hard)} hard, ${num(d.bounced.soft)} soft)`),
    figure(num(d.complaints), `complaints (${pct(d.complaints, d.sent)})`),
    figure(num(d.unsubscribes), `unsubscribed from its links (${pct(d.unsubscribes, d.sent)})`),
    figure(r.clicks.counted ? num(r.clicks.human) : '–', r.clicks.counted ? `clicks by readers (${num(r.clicks.automated)} automated)` : 'clicks not counted'),
  ].join('');
  const most = Math.max(1, ...r.clicks.stories.map((s) => Math.max(s.human, s.automated)));
  const rows = r.clicks.stories.map((s) => `<tr>
<td class="n">${s.rank}</td>
<td><span class="story-title">${e(s.title)}</span><br><span class="muted">${s.position === 1 ? 'Lead story' : `Story ${s.position}`}${s.section ? ` · ${e(s.section)}` : ''} · <a href="${e(s.url)}" rel="noreferrer">open</a></span></td>
<td class="n">${num(s.human)}<span class="bar" style="width:${Math.round((100 * s.human) / most)}%"></span></td>
<td class="n">${num(s.automated)}<span class="bar auto" style="width:${Math.round((100 * s.automated) / most)}%"></span></td>
</tr>`).join('\n');
  const clicks = r.clicks.counted
    ? `<h2>Clicks per story</h2>
<p class="muted">Ranked by readers' clicks. "Automated" are link scanners of mail security gateways, chat previews, HEAD requests and bursts that follow most links of the edition within seconds. Counted in aggregate only: no link names a reader${r.clicks.readersWithRecords !== undefined ? ` (except in this newsletter's opted-in per-reader records: ${num(r.clicks.readersWithRecords)} reader(s))` : ''}, no cookie is set and no email carries an open-tracking pixel.</p>
<table>
<thead><tr><th class="n">#</th><th>Story</th><th class="n">Readers</th><th class="n">Automated</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>`
    : '<h2>Clicks per story</h2>\n<p>Not counted: this newsletter links straight to its stories (<code>clicks.redirect</code> is false).</p>';
  return {
    title: `Report: ${r.id}`,
    body: `<p class="lead">${e(r.newsletterName)} · ${e(r.localDate)} · <span class="state">${e(r.state)}</span>${r.subject ? `<br>${e(r.subject)}` : ''}</p>
${r.startedAt ? `<p class="muted">Sent from ${e(localTime(r.startedAt))}${r.finishedAt ? ` to ${e(r.finishedAt.slice(0, 10) === r.startedAt.slice(0, 10) ? localClock(r.finishedAt) : localTime(r.finishedAt))}` : ''}.</p>` : ''}
<div class="figures">${figures}</div>
${clicks}
<p><a href="/ops/editions">All editions</a> · <a href="/ops/editions/${encodeURIComponent(r.id)}/report.json">JSON</a></p>
`,
  };
}

export function editionsView(editions: Edition[]): View {
  const rows = editions.map((x) => `<tr><td><a href="/ops/editions/${encodeURIComponent(x.id)}/report">${e(x.id)}</a></td><td><span class="state">${e(x.state)}</span></td><td class="n">${num(x.sent)}</td><td class="n">${num(x.unsubscribes)}</td><td>${e(x.subject ?? '')}</td></tr>`).join('\n');
  return {
    title: 'Editions',
    body: editions.length
      ? `<table><thead><tr><th>Edition</th><th>State</th><th class="n">Sent</th><th class="n">Unsubscribes</th><th>Subject</th></tr></thead><tbody>\n${rows}\n</tbody></table>`
      : '<p>No editions yet.</p>',
  };
}

/** `daybreak report`: what an edition did, delivery to clicks per story, as text or JSON. */
import type { Runtime } from '../../app/runtime';
import { editionReport, type EditionReport } from '../../ops/report';
import { resolveEditionRef } from '../../ops/status';
import { n, quietLogs, withRuntime, type GlobalOptions } from '../context';
import { localTime } from './status';

function pct(part: number, whole: number): string {
  return whole > 0 ? ` (${((100 * part) / whole).toFixed(1)}%)` : '';
}

/** The human-readable report. */
export function renderReport(runtime: Runtime, r: EditionReport): string {
  const d = r.delivery;
  const lines: string[] = [];
  lines.push(`${r.id} · ${r.newsletterName} · ${r.state}${r.subject ? ` · ${r.subject}` : ''}`);
  if (r.startedAt) lines.push(`Sent from ${localTime(runtime, r.newsletterId, r.startedAt, 'yyyy-LL-dd HH:mm')}${r.finishedAt ? ` to ${localTime(runtime, r.newsletterId, r.finishedAt, 'HH:mm')}` : ''}`);
  const w = Math.max(6, n(d.total).length);
  const row = (label: string, value: number, note = '') => `  ${label.padEnd(13)} ${n(value).padStart(w)}${note}`;
  lines.push('Delivery:');
  lines.push(row('sent', d.sent, pct(d.sent, d.total)));
  lines.push(row('failed', d.failed));
  lines.push(row('bounced', d.bounced.total, `  (${n(d.bounced.hard)} hard, ${n(d.bounced.soft)} soft)`));
  lines.push(row('complaints', d.complaints, pct(d.complaints, d.sent)));
  lines.push(row('unsubscribes', d.unsubscribes, `${pct(d.unsubscribes, d.sent)}  through this edition's links`));
  if (!r.clicks.counted) {
    lines.push('Clicks:    not counted (this newsletter links straight to its stories: clicks.redirect is false)');
    return lines.join('\n');
  }
  lines.push(`Clicks:    ${n(r.clicks.human)} by readers, ${n(r.clicks.automated)} automated (link scanners, previews, bursts)${r.clicks.readersWithRecords !== undefined ? ` · ${n(r.clicks.readersWithRecords)} reader(s) with a per-reader record` : ''}`);
  const cw = Math.max('READERS'.length, n(Math.max(0, ...r.clicks.stories.map((s) => s.human))).length);
  lines.push(`  ${'#'.padStart(2)}  ${'READERS'.padStart(cw)}  ${'AUTO'.padStart(5)}  STORY (place in the email)`);
  for (const s of r.clicks.stories) {
    lines.push(`  ${String(s.rank).padStart(2)}  ${n(s.human).padStart(cw)}  ${n(s.automated).padStart(5)}  ${s.title}${s.section ? ` [${s.section}]` : ''} (${s.position === 1 ? 'lead' : `story ${s.position}`})`);
  }
  return lines.join('\n');
}

export async function report(ref: string, opts: { json?: boolean }, globals: GlobalOptions): Promise<void> {
  await withRuntime({ ...globals, logLevel: quietLogs() }, async (runtime) => {
    const { id, viaNewsletter } = await resolveEditionRef(runtime, ref);
    if (viaNewsletter && !opts.json) process.stderr.write(`(newest ${ref} edition: ${id})\n`);
    const r = await editionReport(runtime, id);
    console.log(opts.json ? JSON.stringify(r, null, 2) : renderReport(runtime, r));
  });
}

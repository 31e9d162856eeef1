import fs from 'node:fs/promises';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { escapeHtml } from '../render/slots';

/**
 * Writes, for every .eml in an edition's outbox folder, the HTML part beside it (so a browser can
 * show it) and an index.html linking them all: how a newcomer looks at what the demo "sent".
 */
export async function writeOutboxIndex(outboxDir: string, editionId: string): Promise<string> {
  const folder = path.join(outboxDir, editionId);
  const files = (await fs.readdir(folder)).filter((f) => f.endsWith('.eml')).sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
  const rows: string[] = [];
  for (const file of files) {
    const parsed = await simpleParser(await fs.readFile(path.join(folder, file)));
    const htmlFile = file.replace(/\.eml$/, '.html');
    if (parsed.html) await fs.writeFile(path.join(folder, htmlFile), parsed.html);
    const to = Array.isArray(parsed.to) ? parsed.to.map((a) => a.text).join(', ') : parsed.to?.text ?? '';
    rows.push(`<tr><td>${escapeHtml(to)}</td><td>${escapeHtml(parsed.subject ?? '')}</td><td><a href="${encodeURI(htmlFile)}">view</a></td><td><a href="${encodeURI(file)}">.eml</a></td></tr>`);
  }
  const index = `<!doctype html><html lang="en"><meta charset="utf-8"><title>Outbox: ${escapeHtml(editionId)}</title>
<style>body{font:15px/1.5 system-ui,sans-serif;margin:2rem;color:#1a1a1a}table{border-collapse:collapse}td,th{padding:.4rem .8rem;border-bottom:1px solid #ddd;text-align:left}</style>
<h1>Outbox: ${escapeHtml(editionId)}</h1><p>${files.length} message(s) written instead of sent (no SMTP_URL set).</p>
<table><thead><tr><th>To</th><th>Subject</th><th>Rendered</th><th>Raw</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table></html>\n`;
  const indexPath = path.join(folder, 'index.html');
  await fs.writeFile(indexPath, index);
  return indexPath;
}

/** The outbox's index page: every written message beside its HTML, openable from disk with its pictures. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { projectRoot } from '../config/load';
import { escapeHtml } from '../render/slots';

/**
 * Writes, for every .eml in an edition's outbox folder, the HTML part beside it (so a browser can
 * show it) and an index.html linking them all: how a newcomer looks at what the demo "sent".
 * The .eml files stay as sent (images and links at PUBLIC_URL, served by `daybreak serve`); the
 * .html copies show the shipped sample images from copies in `images/` beside them, so the outbox
 * opens straight from disk with no server running.
 */

export interface OutboxIndexOptions {
  /** Where the web server's `/static/samples/images/` files live (default: samples/images/ in the project). */
  sampleImagesDir?: string;
  /** The PUBLIC_URL the messages link to, named on the index page. */
  publicUrl?: string;
}

/** The web server's path for the shipped sample images (src/web/routes/static.ts). */
const SAMPLE_IMAGES_PATH = '/static/samples/images/';
/** An image src served from that path, on any host: the demo feed's pictures. Anchored, on one attribute value. */
const SAMPLE_IMAGE_SRC = /^https?:\/\/[^/\s"]{1,253}\/static\/samples\/images\/([a-z0-9][a-z0-9-]{0,80}\.(?:png|jpe?g|gif))$/;
/** Folder beside the .html copies that holds the copied images. */
export const OUTBOX_IMAGES_DIR = 'images';

/**
 * Points every `src="…/static/samples/images/<file>"` whose file is in `available` at
 * `images/<file>`, and says which files that needs. One pass over the attribute values
 * (indexOf), no backtracking; any other src is left as it is.
 */
export function localiseSampleImages(html: string, available: ReadonlySet<string>): { html: string; files: string[] } {
  const files = new Set<string>();
  let out = '';
  let at = 0;
  for (;;) {
    const open = html.indexOf('src="', at);
    if (open === -1) break;
    const valueStart = open + 'src="'.length;
    const close = html.indexOf('"', valueStart);
    if (close === -1) break;
    const value = html.slice(valueStart, close);
    const file = value.length <= 400 && value.includes(SAMPLE_IMAGES_PATH) ? SAMPLE_IMAGE_SRC.exec(value)?.[1] : undefined;
    out += html.slice(at, valueStart);
    if (file && available.has(file)) {
      files.add(file);
      out += `${OUTBOX_IMAGES_DIR}/${file}`;
    } else {
      out += value;
    }
    at = close;
  }
  return { html: out + html.slice(at), files: [...files] };
}

export async function writeOutboxIndex(outboxDir: string, editionId: string, options: OutboxIndexOptions = {}): Promise<string> {
  const folder = path.join(outboxDir, editionId);
  const imagesFrom = options.sampleImagesDir ?? path.join(projectRoot, 'samples', 'images');
  const files = (await fs.readdir(folder)).filter((f) => f.endsWith('.eml')).sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
  const rows: string[] = [];
  const available = new Set(await fs.readdir(imagesFrom).catch(() => [] as string[]));
  const copied = new Set<string>();
  for (const file of files) {
    const parsed = await simpleParser(await fs.readFile(path.join(folder, file)));
    const htmlFile = file.replace(/\.eml$/, '.html');
    if (parsed.html) {
      const local = localiseSampleImages(parsed.html, available);
      for (const image of local.files.filter((f) => !copied.has(f))) {
        await fs.mkdir(path.join(folder, OUTBOX_IMAGES_DIR), { recursive: true });
        await fs.copyFile(path.join(imagesFrom, image), path.join(folder, OUTBOX_IMAGES_DIR, image));
        copied.add(image);
      }
      await fs.writeFile(path.join(folder, htmlFile), local.html);
    }
    const to = Array.isArray(parsed.to) ? parsed.to.map((a) => a.text).join(', ') : parsed.to?.text ?? '';
    rows.push(`<tr><td>${escapeHtml(to)}</td><td>${escapeHtml(parsed.subject ?? '')}</td><td><a href="${encodeURI(htmlFile)}">view</a></td><td><a href="${encodeURI(file)}">.eml</a></td></tr>`);
  }
  const publicUrl = options.publicUrl ? ` (<code>${escapeHtml(options.publicUrl)}</code>)` : '';
  const index = `<!doctype html><html lang="en"><meta charset="utf-8"><title>Outbox: ${escapeHtml(editionId)}</title>
<style>body{font:15px/1.5 system-ui,sans-serif;margin:2rem;color:#1a1a1a}table{border-collapse:collapse}td,th{padding:.4rem .8rem;border-bottom:1px solid #ddd;text-align:left}.note{color:#555;max-width:44rem}</style>
<h1>Outbox: ${escapeHtml(editionId)}</h1><p>${files.length} message(s) written instead of sent (no SMTP_URL set).</p>
<p class="note">The "view" pages show the sample pictures from <code>${OUTBOX_IMAGES_DIR}/</code> beside this file. In the .eml files, as in a real send, pictures and links point at PUBLIC_URL${publicUrl}: <code>npx daybreak serve</code> there makes them live.</p>
<table><thead><tr><th>To</th><th>Subject</th><th>Rendered</th><th>Raw</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table></html>\n`;
  const indexPath = path.join(folder, 'index.html');
  await fs.writeFile(indexPath, index);
  return indexPath;
}

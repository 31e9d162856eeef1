/** `daybreak preview`: the edition as an editor sees it, written to an HTML file, stored and sent nowhere. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { planEdition } from '../../delivery/build-edition';
import { editionIdFor } from '../../delivery/edition';
import { editionSlot } from '../../delivery/schedule';
import type { RenderedEdition } from '../../render/contract';
import { escapeHtml, fillSlots, neutralSlotValues } from '../../render/slots';
import { outboxDir } from '../../delivery/transports';
import { articleList } from '../article-list';
import { explainPathError, writeFileOrExplain } from '../files';
import { withRuntime, type GlobalOptions } from '../context';
import { resolveLocalDate } from './run-edition';

export async function preview(newsletterId: string, opts: { date?: string; out?: string; text?: boolean }, globals: GlobalOptions): Promise<void> {
  await withRuntime({ ...globals, logLevel: 'warn' }, async (runtime) => {
    const newsletter = runtime.newsletter(newsletterId);
    const localDate = resolveLocalDate(runtime, newsletterId, opts.date);
    const id = editionIdFor(newsletterId, localDate);
    // An edition already built shows what readers got; otherwise what a run now would pick.
    const existing = await runtime.editions.get(id);
    const stored = existing ? await runtime.editions.content(id) : undefined;
    let rendered: RenderedEdition;
    let articles: ReadonlyArray<{ title: string; section?: string }>;
    let window: string;
    if (existing && stored) {
      rendered = stored;
      articles = existing.articles;
      window = `already built, ${existing.state}; showing what readers got`;
    } else {
      const scheduledFor = editionSlot(newsletter.cron, newsletter.timezone, localDate);
      const plan = await planEdition(runtime, { id, newsletterId, localDate, scheduledFor });
      const { renderEdition } = require('../../render/render-edition') as typeof import('../../render/render-edition');
      rendered = await renderEdition(plan.content);
      articles = plan.articles;
      window = `published ${plan.since.toISOString()} .. ${plan.cutoff.toISOString()}`;
    }
    const base = runtime.config.publicUrl.replace(/\/$/, '');
    const values = { ...neutralSlotValues({ unsubscribeUrl: `${base}/unsubscribe`, preferencesUrl: `${base}/preferences` }), greeting: 'Good morning, Reader', email: 'reader@example.com' };
    const html = fillSlots(rendered.html, values, escapeHtml);
    let out: string;
    if (opts.out) {
      // A folder the person named must exist: creating it would hide a typo.
      out = path.resolve(opts.out);
      await writeFileOrExplain(out, html, '--out');
    } else {
      out = path.join(outboxDir(runtime.config), 'preview', `${id}.html`);
      await fs.mkdir(path.dirname(out), { recursive: true }).catch((error: unknown) => {
        throw explainPathError(error, out, 'the preview');
      });
      await writeFileOrExplain(out, html, 'the preview');
    }
    console.log(`Preview of ${id}`);
    console.log(`Subject: ${rendered.subject}`);
    console.log(`Articles: ${articles.length} (${window})`);
    for (const line of articleList(articles)) console.log(line);
    console.log(`HTML: ${Buffer.byteLength(rendered.html)} bytes, MJML compiled in ${rendered.timings.mjmlMs.toFixed(1)} ms`);
    for (const w of rendered.warnings) console.log(`Warning: ${w}`);
    console.log(`Written to ${out}`);
    if (opts.text) console.log(`\n${fillSlots(rendered.text, values)}`);
  });
}

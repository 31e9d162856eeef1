import fs from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { planEdition } from '../../delivery/build-edition';
import { editionIdFor } from '../../delivery/edition';
import { scheduledSlot } from '../../delivery/schedule';
import type { RenderedEdition } from '../../render/contract';
import { escapeHtml, fillSlots, neutralSlotValues } from '../../render/slots';
import { outboxDir } from '../../delivery/transports';
import { articleList } from '../article-list';
import { withRuntime, type GlobalOptions } from '../context';
import { resolveLocalDate } from './run-edition';

export function registerPreview(program: Command, globals: () => GlobalOptions): void {
  program
    .command('preview')
    .description("render a day's edition as an editor would see it, without storing or sending anything")
    .argument('<newsletter>', 'newsletter id, e.g. national')
    .option('--date <YYYY-MM-DD>', "the edition's date (default: today in the newsletter's time zone)")
    .option('--out <file>', 'where to write the HTML (default: <outbox>/preview/<edition>.html)')
    .option('--text', 'also print the plain-text part')
    .action(async (newsletterId: string, opts: { date?: string; out?: string; text?: boolean }) => {
      await withRuntime({ ...globals(), logLevel: 'warn' }, async (runtime) => {
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
          const scheduledFor = scheduledSlot(newsletter.cron, newsletter.timezone, localDate) ?? runtime.clock.now();
          const plan = await planEdition(runtime, { id, newsletterId, localDate, scheduledFor });
          const { renderEdition } = require('../../render/render-edition') as typeof import('../../render/render-edition');
          rendered = await renderEdition(plan.content);
          articles = plan.articles;
          window = `published ${plan.since.toISOString()} .. ${plan.cutoff.toISOString()}`;
        }
        const base = runtime.config.publicUrl.replace(/\/$/, '');
        const values = { ...neutralSlotValues({ unsubscribeUrl: `${base}/unsubscribe`, preferencesUrl: `${base}/preferences` }), greeting: 'Good morning, Reader', email: 'reader@example.com' };
        const out = path.resolve(opts.out ?? path.join(outboxDir(runtime.config), 'preview', `${id}.html`));
        await fs.mkdir(path.dirname(out), { recursive: true });
        await fs.writeFile(out, fillSlots(rendered.html, values, escapeHtml));
        console.log(`Preview of ${id}`);
        console.log(`Subject: ${rendered.subject}`);
        console.log(`Articles: ${articles.length} (${window})`);
        for (const line of articleList(articles)) console.log(line);
        console.log(`HTML: ${Buffer.byteLength(rendered.html)} bytes, MJML compiled in ${rendered.timings.mjmlMs.toFixed(1)} ms`);
        for (const w of rendered.warnings) console.log(`Warning: ${w}`);
        console.log(`Written to ${out}`);
        if (opts.text) console.log(`\n${fillSlots(rendered.text, values)}`);
      });
    });
}

/** `daybreak preview`: the edition as an editor sees it, written to an HTML file, stored and sent nowhere. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { escapeHtml, fillSlots, neutralSlotValues } from '../../render/slots';
import { outboxDir } from '../../mail/transports';
import { articleList } from '../article-list';
import { explainPathError, writeFileOrExplain } from '../files';
import { withRuntime, type GlobalOptions } from '../context';
import { resolveLocalDate } from './run-edition';
import { publicLink } from '../../mail/addresses';
import { greetingFor } from '../../render/slots';
import { editionContent } from '../../ops/edition-content';

export async function preview(newsletterId: string, opts: { date?: string; out?: string; text?: boolean }, globals: GlobalOptions): Promise<void> {
  await withRuntime({ ...globals, logLevel: 'warn' }, async (runtime) => {
    runtime.newsletter(newsletterId);
    const localDate = resolveLocalDate(runtime, newsletterId, opts.date);
    // An edition already built shows what readers got; otherwise what a run now would pick.
    const { editionId: id, rendered, articles, window } = await editionContent(runtime, newsletterId, localDate);
    const link = (pathname: string) => publicLink(runtime.config.publicUrl, pathname);
    const values = { ...neutralSlotValues({ unsubscribeUrl: link('/unsubscribe'), preferencesUrl: link('/preferences') }), greeting: greetingFor('Reader'), email: 'reader@example.com' };
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

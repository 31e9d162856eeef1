/**
 * Render micro-benchmark: what is done once per edition and what is done per message.
 * Run: node --import tsx bench/render.ts [messages=20000]
 */
import { performance } from 'node:perf_hooks';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { MessageValues, RenderedEdition } from '../src/render/contract';
import { buildMimeTemplate, personaliseMessage, prepareMimeTemplate } from '../src/render/mime-template';
import { renderEdition } from '../src/render/render-edition';
import { escapeHtml, fillSlots, splitSlots } from '../src/render/slots';
import { buildEditionContent, buildEditionHeaders, buildMessageValues } from '../test/render/fixtures';

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (n: number, digits = 2): string => n.toFixed(digits);

function valuesFor(i: number): MessageValues {
  const email = `reader${i}+news@example.co.uk`;
  return buildMessageValues({
    to: { email, name: i % 3 === 0 ? 'Jos\u00e9 \u00d1\u00fa\u00f1ez' : `Reader ${i}` },
    email,
    greeting: i % 3 === 0 ? 'Good morning, Jos\u00e9.' : `Good morning, Reader ${i}.`,
    unsubscribeUrl: `https://daybreak.example/u/national?s=${i}&t=Zk9x_3bQ-a1c8Yp2R&e=${encodeURIComponent(email)}`,
    preferencesUrl: `https://daybreak.example/preferences?s=${i}&t=Zk9x_3bQ-a1c8Yp2R`,
    messageId: `national-2026-11-24.${i}.q8Zr2KfA`,
  });
}

async function main(): Promise<void> {
  const messages = Number(process.argv[2] ?? 20_000);
  const content = buildEditionContent();
  const headers = buildEditionHeaders();

  // Once per edition ------------------------------------------------------------------------
  let rendered: RenderedEdition = await renderEdition(content); // warm-up (template compile, JIT)
  const mjmlMs: number[] = [];
  const textMs: number[] = [];
  const renderMs: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    rendered = await renderEdition(content);
    renderMs.push(performance.now() - t0);
    mjmlMs.push(rendered.timings.mjmlMs);
    textMs.push(rendered.timings.textMs);
  }

  const mimeMs: number[] = [];
  let template = buildMimeTemplate(rendered, headers);
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    template = buildMimeTemplate(rendered, headers);
    mimeMs.push(performance.now() - t0);
  }
  const json = JSON.stringify(template);
  const loadMs: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    prepareMimeTemplate(JSON.parse(json));
    loadMs.push(performance.now() - t0);
  }
  const prepared = prepareMimeTemplate(template);

  // Per message -----------------------------------------------------------------------------
  const values = Array.from({ length: 1000 }, (_, i) => valuesFor(i));
  for (let i = 0; i < 2000; i++) personaliseMessage(prepared, values[i % values.length]); // warm-up
  const perMsgUs: number[] = new Array(messages);
  let bytes = 0;
  const tAll = performance.now();
  for (let i = 0; i < messages; i++) {
    const t0 = performance.now();
    const raw = personaliseMessage(prepared, values[i % values.length]);
    perMsgUs[i] = (performance.now() - t0) * 1000;
    bytes += raw.length;
  }
  const allMs = performance.now() - tAll;

  // Reference: nodemailer building the whole message per subscriber (what compile-once avoids).
  const htmlSplit = splitSlots(rendered.html);
  const textSplit = splitSlots(rendered.text);
  const refRuns = 300;
  const refMs: number[] = [];
  for (let i = 0; i < refRuns + 20; i++) {
    const v = values[i % values.length];
    const t0 = performance.now();
    await new MailComposer({
      from: headers.from,
      replyTo: headers.replyTo,
      to: { name: v.to.name ?? '', address: v.to.email },
      subject: headers.subject,
      date: v.date,
      messageId: `<${v.messageId}@${headers.messageIdDomain}>`,
      headers: { 'List-Id': headers.listId, 'List-Unsubscribe': `<${v.unsubscribeUrl}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
      text: fillSlots(textSplit, v),
      html: fillSlots(htmlSplit, v, escapeHtml),
    })
      .compile()
      .build();
    if (i >= 20) refMs.push(performance.now() - t0);
  }

  const sample = personaliseMessage(prepared, values[0]);
  const htmlBytes = Buffer.byteLength(rendered.html);
  console.log(`Daybreak render bench (Node ${process.version}, ${content.articles.length} stories)`);
  console.log('once per edition (median of 10):');
  console.log(`  renderEdition total       ${fmt(median(renderMs))} ms  (Handlebars + MJML + text + checks)`);
  console.log(`  MJML compile              ${fmt(median(mjmlMs))} ms`);
  console.log(`  html-to-text              ${fmt(median(textMs))} ms`);
  console.log(`  buildMimeTemplate         ${fmt(median(mimeMs))} ms`);
  console.log(`  load template (JSON+prep) ${fmt(median(loadMs))} ms  (${json.length} bytes of JSON)`);
  console.log(`per message (${messages} messages):`);
  console.log(`  personaliseMessage        ${fmt(median(perMsgUs), 1)} us median, ${fmt((allMs * 1000) / messages, 1)} us mean incl. timer (${Math.round(messages / (allMs / 1000))} messages/s on one core)`);
  console.log(`  nodemailer full build     ${fmt(median(refMs) * 1000, 0)} us median (reference, ${refRuns} runs)`);
  console.log('sizes:');
  console.log(`  HTML ${htmlBytes} bytes (${fmt(htmlBytes / 1024, 1)} KB), text ${Buffer.byteLength(rendered.text)} bytes`);
  console.log(`  message ${sample.length} bytes (static ${template.staticBytes}), mean ${Math.round(bytes / messages)} bytes`);
  console.log(`  warnings: ${rendered.warnings.length ? rendered.warnings.join('; ') : 'none'}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

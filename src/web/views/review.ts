/** The HTML of the editors' review page: the stories of an edition awaiting approval, with approve, hold, drop and pin buttons. */
import type { Edition } from '../../delivery/edition';
import { storyKey } from '../../mail/edition-links';
import { escapeHtml } from '../../render/slots';
import { FORM_TOKEN_FIELD } from '../security';
import type { View } from './subscriptions';

const e = escapeHtml;

/** Extra CSS for the review page's story list (added to the shared page shell). */
export const REVIEW_PAGE_STYLE = `
  header.masthead p, main, footer { max-width: 48rem; }
  ol.stories { padding-left: 0; list-style: none; counter-reset: story; margin: 1rem 0 1.5rem; }
  ol.stories li { display: grid; grid-template-columns: 2rem 1fr auto; gap: .6rem; align-items: start; padding: .7rem 0; border-bottom: 1px solid #e3e1da; }
  ol.stories li .num { font: 1.3rem/1.2 Georgia, serif; color: #55595e; }
  ol.stories li .title { font-weight: 700; color: #0b2a4a; }
  ol.stories form { display: inline; }
  ol.stories button { font-size: .85rem; padding: .35rem .7rem; }
  .decision { border-left: 5px solid #0b2a4a; background: #e8eef5; padding: .7rem 1rem; margin: 0 0 1.25rem; }
`;

function button(action: string, label: string, formToken: string, options: { article?: string; secondary?: boolean; autofocus?: boolean; describe?: string } = {}): string {
  return `<form method="post"><input type="hidden" name="${FORM_TOKEN_FIELD}" value="${e(formToken)}"><input type="hidden" name="action" value="${e(action)}">${options.article ? `<input type="hidden" name="article" value="${e(options.article)}">` : ''}<button type="submit"${options.secondary ? ' class="secondary"' : ''}${options.autofocus ? ' autofocus' : ''}${options.describe ? ` aria-label="${e(options.describe)}"` : ''}>${e(label)}</button></form>`;
}

export function reviewView(input: {
  edition: Edition;
  newsletterName: string;
  mode: 'veto' | 'required';
  editor: string;
  slot: string;
  formToken: string;
  editionUrl: string;
  /** The link in the email named this button: put it first and focused. */
  suggested?: 'approve' | 'hold';
  notice?: string;
}): View {
  const { edition } = input;
  const rule = input.mode === 'required' ? 'Nothing is sent until an editor approves it.' : 'It goes at its slot unless an editor holds it.';
  const say = edition.approval
    ? `${edition.approval === 'approved' ? 'Approved' : 'Held'} by ${e(edition.approvalBy ?? 'an editor')}${edition.approvalAt ? ` at ${e(edition.approvalAt.toISOString().slice(11, 16))} UTC` : ''}.`
    : 'No editor has approved or held it yet.';
  const stories = edition.articles.map((a, i) => `<li><span class="num">${i + 1}</span><span><span class="title">${e(a.title)}</span><br><span class="muted">${i === 0 ? 'Lead story' : e(a.section ?? '')}</span></span><span>${i === 0 ? '' : button('pin', 'Make lead', input.formToken, { article: storyKey(a.id), secondary: true, describe: `Make story ${i + 1} the lead: ${a.title}` })} ${edition.articles.length > 1 ? button('drop', 'Drop', input.formToken, { article: storyKey(a.id), secondary: true, describe: `Drop story ${i + 1}: ${a.title}` }) : ''}</span></li>`).join('\n');
  const approve = button('approve', 'Approve', input.formToken, { autofocus: input.suggested === 'approve' });
  const hold = button('hold', 'Hold', input.formToken, { secondary: true, autofocus: input.suggested === 'hold' });
  return {
    title: `Review: ${input.newsletterName}`,
    body: `${input.notice ? `<p class="notice" role="status">${e(input.notice)}</p>\n` : ''}<p class="lead">${e(edition.subject ?? edition.id)}</p>
<p>Due ${e(input.slot)}. ${e(rule)} You are signed in by your link as ${e(input.editor)}.</p>
<div class="decision"><p>${say}</p>
<div class="actions">${input.suggested === 'hold' ? hold + approve : approve + hold}</div></div>
<h2>Stories</h2>
<p class="muted">Dropping a story or making one the lead renders the edition again (once per change) and clears an approval given before it.</p>
<ol class="stories">
${stories}
</ol>
<p><a href="${e(input.editionUrl)}">See the edition as it stands</a></p>
`,
  };
}

export function reviewClosedView(input: { edition?: Edition; reason: 'expired' | 'not-awaiting' | 'not-editor' }): View {
  if (input.reason === 'expired') {
    return { title: 'Review link expired', body: '<p>This review link worked until the edition\'s slot. Ask ops if it still needs your say: `daybreak editions approve|hold` works after the slot.</p>\n' };
  }
  if (input.reason === 'not-editor') {
    return { title: 'Review link not recognised', body: '<p>This link belongs to an address that is no longer one of the newsletter\'s editors.</p>\n' };
  }
  const state = input.edition?.state ?? 'gone';
  const words: Record<string, string> = { sending: 'is being sent', done: 'has been sent', paused: 'is paused', cancelled: 'was cancelled', failed: 'failed', held: 'is held for ops' };
  return { title: 'Nothing left to review', body: `<p>This edition ${e(words[state] ?? `is ${state}`)}: the editors' say applies only before it is sent.</p>\n` };
}

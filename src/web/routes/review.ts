/** `/review/<token>`: an editor's page for an edition awaiting approval (approve, hold, drop or pin a story), from the links in their preview. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isDaybreakError } from '../../core/errors';
import { approveEdition, changeStory, holdEdition, type ApprovalDeps } from '../../delivery/approval';
import { withDirectStoryLinks } from '../../delivery/story-links';
import type { Edition } from '../../delivery/edition';
import { slotLabel } from '../../delivery/schedule';
import { publicLink } from '../../mail/addresses';
import { escapeHtml, fillSlots, greetingFor } from '../../render/slots';
import type { PageKit } from '../kit';
import { page } from '../page';
import { applyPageHeaders, checkFormPost, issueFormToken } from '../security';
import { forbiddenView, type View } from '../views/subscriptions';
import { REVIEW_PAGE_STYLE, reviewClosedView, reviewView } from '../views/review';

type Params = { token: string };
type Body = Record<string, unknown> | undefined;

/**
 * GET shows the page, never acts: mail security scanners follow every link in a message, and must
 * not approve or hold an edition. The buttons POST back to the same URL with a form token (and our
 * Origin), so another site cannot make an editor's browser act (CSRF); the signed URL token says
 * which edition and which editor, until the edition's slot. What each editor did goes into the
 * edition's history as `editor:<address>`.
 */
export function registerReviewRoutes(app: FastifyInstance, kit: PageKit, deps: ApprovalDeps): void {
  const web = kit.deps;
  const org = web.config.organisation;
  const render = (reply: FastifyReply, view: View, status = 200) =>
    applyPageHeaders(reply).code(status).type('text/html; charset=utf-8').send(page(view.title, view.body, org.name, { postalAddress: org.postalAddress, extraStyle: REVIEW_PAGE_STYLE }));

  /** The edition and the editor a token names, or the page that says why not. */
  async function open(request: FastifyRequest<{ Params: Params }>, reply: FastifyReply): Promise<{ edition: Edition; editor: string } | undefined> {
    const check = web.signer.editionLinks.verifyEditor(request.params.token, web.clock.now());
    if (!check.ok) {
      if (check.reason === 'expired') render(reply, reviewClosedView({ reason: 'expired' }), 410);
      else await kit.badToken(request, reply, { title: 'Review link not recognised', body: '<p>This review link is not valid. It may have been cut short when it was copied: open it from the preview email again.</p>\n' });
      return undefined;
    }
    const edition = await deps.editions.get(check.claims.editionId);
    const newsletter = edition ? web.config.newsletters.find((n) => n.id === edition.newsletterId) : undefined;
    const editor = newsletter?.editors.find((address) => web.signer.editionLinks.editorKey(address) === check.claims.editor);
    if (!edition || !newsletter || !editor) {
      render(reply, reviewClosedView({ edition, reason: 'not-editor' }), 403);
      return undefined;
    }
    if (edition.state !== 'awaiting-approval') {
      render(reply, reviewClosedView({ edition, reason: 'not-awaiting' }), 409);
      return undefined;
    }
    return { edition, editor };
  }

  const show = (reply: FastifyReply, request: FastifyRequest<{ Params: Params }>, edition: Edition, editor: string, extra: { notice?: string; suggested?: 'approve' | 'hold' } = {}, status = 200) => {
    const newsletter = deps.newsletter(edition.newsletterId);
    return render(reply, reviewView({
      edition,
      newsletterName: newsletter.name,
      mode: newsletter.approval === 'required' ? 'required' : 'veto',
      editor,
      slot: slotLabel(edition.scheduledFor, newsletter.timezone),
      formToken: issueFormToken(web),
      editionUrl: `/review/${encodeURIComponent(request.params.token)}/edition`,
      ...extra,
    }), status);
  };

  app.get<{ Params: Params; Querystring: { action?: unknown } }>('/review/:token', async (request, reply) => {
    if (!(await kit.allowPage(request, reply))) return reply;
    const opened = await open(request, reply);
    if (!opened) return reply;
    const action = request.query.action;
    return show(reply, request, opened.edition, opened.editor, { suggested: action === 'approve' || action === 'hold' ? action : undefined });
  });

  // The edition as it stands, as readers will get it (story links straight to the articles).
  app.get<{ Params: Params }>('/review/:token/edition', async (request, reply) => {
    if (!(await kit.allowPage(request, reply))) return reply;
    const opened = await open(request, reply);
    if (!opened) return reply;
    const content = await web.editions.content(opened.edition.id);
    if (!content) return reply.callNotFound();
    const direct = withDirectStoryLinks(content, { secret: web.config.secret, publicUrl: web.config.publicUrl, editionId: opened.edition.id, articles: opened.edition.articles });
    const help = publicLink(web.config.publicUrl, '/archive/personal-links');
    const html = fillSlots(direct.html, { greeting: greetingFor(undefined), email: opened.editor, unsubscribeUrl: help, preferencesUrl: help }, escapeHtml);
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('content-security-policy', "default-src 'none'; img-src 'self' https: http: data:; style-src 'unsafe-inline'; font-src https: data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
      .header('referrer-policy', 'no-referrer')
      .header('x-content-type-options', 'nosniff')
      .send(html);
  });

  app.post<{ Params: Params; Body: Body }>('/review/:token', async (request, reply) => {
    if (!(await kit.allowPage(request, reply))) return reply;
    const opened = await open(request, reply);
    if (!opened) return reply;
    const verdict = checkFormPost(request, web, { form: 'review' });
    if (!verdict.ok) {
      if (verdict.reason === 'expired-token') return show(reply, request, opened.edition, opened.editor, { notice: 'This page was open for a long time: nothing was done. Press the button again.' }, 400);
      return render(reply, forbiddenView(verdict.reason), 403);
    }
    const body = request.body ?? {};
    const action = typeof body.action === 'string' ? body.action : '';
    const article = typeof body.article === 'string' ? body.article.slice(0, 200) : '';
    const by = `editor:${opened.editor}`;
    const id = opened.edition.id;
    let notice: string;
    try {
      if (action === 'approve') notice = `Approved. ${(await approveEdition(deps, id, { by })).next}`;
      else if (action === 'hold') notice = `Held. ${(await holdEdition(deps, id, { by })).next}`;
      else if ((action === 'drop' || action === 'pin') && article) {
        const result = await changeStory(deps, id, { kind: action, story: article, by });
        notice = !result.changed ? `"${result.article.title}" already leads.` : action === 'drop' ? `Dropped "${result.article.title}"; the edition was rendered again.` : `"${result.article.title}" now leads; the edition was rendered again.`;
      } else return show(reply, request, opened.edition, opened.editor, { notice: 'Choose one of the buttons.' }, 400);
    } catch (error) {
      if (!isDaybreakError(error)) throw error;
      notice = error.message;
    }
    const after = await deps.editions.get(id);
    if (!after || after.state !== 'awaiting-approval') return render(reply, { title: 'Done', body: `<p class="notice" role="status">${escapeHtml(notice)}</p>\n` });
    return show(reply, request, after, opened.editor, { notice });
  });
}

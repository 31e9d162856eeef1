/** `/r/<edition>/<story>/<sig>`: a story link in an edition, counted in aggregate and redirected to the article. */
import type { FastifyInstance } from 'fastify';
import { followStoryLink, type ClickDeps } from '../../ops/clicks';
import { clientIp, userAgent } from '../security';

/**
 * GET (and HEAD, which Fastify answers from the same route) a story link: 302 to the article's URL
 * from the edition's stored article list. No cookie is set and nothing in the link names the
 * reader (except `?u=` in a newsletter that opted in to per-reader records). A link we did not
 * sign, or a story the edition does not have, gets the site's 404 page.
 */
export function registerStoryLinkRoutes(app: FastifyInstance, deps: ClickDeps): void {
  app.get<{ Params: { edition: string; story: string; sig: string }; Querystring: { u?: unknown } }>('/r/:edition/:story/:sig', async (request, reply) => {
    const { edition, story, sig } = request.params;
    const outcome = await followStoryLink(deps, {
      editionId: edition,
      story,
      sig,
      method: request.method,
      ip: clientIp(request),
      userAgent: userAgent(request),
      readerRef: request.query.u,
    });
    if (outcome.kind === 'unknown') return reply.callNotFound();
    return reply
      .code(302)
      // Every click comes back here (nothing caches the answer), and no page of ours is shown.
      .header('cache-control', 'no-store')
      .header('x-robots-tag', 'noindex')
      .header('location', outcome.location)
      .send();
  });
}

/** The ops pages: recent editions and each edition's report, behind the ops token or the admin credentials. */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { DateTime } from 'luxon';
import { isEditionId } from '../../mail/edition-links';
import { isDaybreakError } from '../../core/errors';
import { editionReport, type EditionReport, type ReportDeps } from '../../ops/report';
import { askForOpsCredentials, checkOpsPageAccess } from '../ops-auth';
import { page } from '../page';
import { applyPageHeaders } from '../security';
import { editionsView, OPS_PAGE_STYLE, reportView } from '../views/ops';
import type { View } from '../views/subscriptions';
import type { WebDeps } from '../deps';

/** The report, or undefined for an edition that does not exist (the caller answers 404). */
async function reportOrNothing(deps: ReportDeps, id: string): Promise<EditionReport | undefined> {
  if (!isEditionId(id)) return undefined;
  try {
    return await editionReport(deps, id);
  } catch (error) {
    if (isDaybreakError(error) && error.code === 'not-found') return undefined;
    throw error;
  }
}

export function registerOpsPageRoutes(app: FastifyInstance, deps: WebDeps & ReportDeps, env: NodeJS.ProcessEnv): void {
  const org = deps.config.organisation;
  const render = (reply: FastifyReply, view: View) =>
    applyPageHeaders(reply).type('text/html; charset=utf-8').send(page(view.title, view.body, org.name, { extraStyle: OPS_PAGE_STYLE }));

  app.register(async (scope) => {
    scope.addHook('onRequest', async (request, reply) => {
      const access = checkOpsPageAccess(request, env);
      if (access === 'missing' || access === 'wrong') {
        if (access === 'wrong') deps.logger.warn({ ip: request.ip, route: request.routeOptions.url }, 'ops page: wrong credentials');
        return askForOpsCredentials(reply, env);
      }
    });

    scope.get('/ops/editions', async (_request, reply) => render(reply, editionsView(await deps.editions.list(undefined, 50))));

    scope.get<{ Params: { edition: string } }>('/ops/editions/:edition/report', async (request, reply) => {
      const r = await reportOrNothing(deps, request.params.edition);
      if (!r) return reply.callNotFound();
      const zone = deps.config.newsletters.find((n) => n.id === r.newsletterId)?.timezone ?? 'UTC';
      return render(reply, reportView(r, (iso) => DateTime.fromISO(iso, { zone }).toFormat('d LLL yyyy HH:mm ZZZZ'), (iso) => DateTime.fromISO(iso, { zone }).toFormat('HH:mm')));
    });

    scope.get<{ Params: { edition: string } }>('/ops/editions/:edition/report.json', async (request, reply) => {
      const r = await reportOrNothing(deps, request.params.edition);
      if (!r) return reply.callNotFound();
      return reply.header('cache-control', 'no-store').send(r);
    });
  });
}

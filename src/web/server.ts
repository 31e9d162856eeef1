/** The web server: every route, error pages and logging, built on the narrow WebDeps. */
import crypto from 'node:crypto';
import formbody from '@fastify/formbody';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { registerAdminQueueRoutes } from './routes/admin-queues';
import { registerArchiveRoutes } from './routes/archive';
import { registerHealthRoutes } from './routes/health';
import { METRICS_TOKEN_ENV, metricsToken, registerMetricsRoutes } from './routes/metrics';
import { registerOpsPageRoutes } from './routes/ops-pages';
import { registerStaticRoutes } from './routes/static';
import { registerStoryLinkRoutes } from './routes/story-links';
import { registerUnsubscribeRoutes } from './routes/unsubscribe';
import { webhookRoutes } from './routes/webhooks';
import { registerErrorPages } from './error-pages';
import { createPageKit } from './kit';
import { registerConfirmRoutes } from './routes/confirm';
import { registerPreferencesRoutes } from './routes/preferences';
import { registerReviewRoutes } from './routes/review';
import { registerSubscribeRoutes } from './routes/subscribe';
import type { WebDeps } from './deps';

export interface WebServerOptions {
  /** Where DAYBREAK_METRICS_TOKEN and the admin credentials are read (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

/**
 * The HTTP side: subscriber pages, one-click unsubscribe, archive, health. Routes live in routes/.
 * Fastify logs through the project's logger (component "web"): each request at debug (route
 * pattern, status, time; never the raw URL, which may carry a reader's token), failures at error
 * with the request id, which the reader's error page shows as a reference.
 */
export async function buildWebServer(deps: WebDeps, options: WebServerOptions = {}): Promise<FastifyInstance> {
  const env = options.env ?? process.env;
  const app = Fastify({
    // Typed as Fastify's base logger so the instance keeps the FastifyInstance type every route module takes.
    loggerInstance: deps.logger.child({ component: 'web' }) as FastifyBaseLogger,
    // Fastify's own per-request lines are info; ours (onResponse below) are debug and name the route, not the URL.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => crypto.randomBytes(6).toString('hex'),
    bodyLimit: 64 * 1024,
    trustProxy: deps.config.web.trustProxy,
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.debug({ method: request.method, route: request.routeOptions.url ?? '(no route)', statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });
  registerErrorPages(app, deps);
  await app.register(formbody);
  registerHealthRoutes(app, deps, { env });
  registerStaticRoutes(app);
  // Subscriber pages: sign-up, confirm, one-click unsubscribe, preferences (one shared limiter and page shell).
  const kit = createPageKit(deps);
  registerSubscribeRoutes(app, kit);
  registerConfirmRoutes(app, kit);
  registerUnsubscribeRoutes(app, kit);
  registerPreferencesRoutes(app, kit);
  registerReviewRoutes(app, kit, deps);
  registerArchiveRoutes(app, deps);
  registerStoryLinkRoutes(app, deps);
  registerMetricsRoutes(app, deps, env);
  registerOpsPageRoutes(app, deps, env);
  await registerAdminQueueRoutes(app, deps, env);
  // ESP bounce and complaint webhooks, in their own encapsulated context (raw-body parser).
  await app.register(webhookRoutes, { deps: deps });
  return app;
}

export async function startWebServer(deps: WebDeps, port = deps.config.port, host = '0.0.0.0'): Promise<FastifyInstance> {
  const app = await buildWebServer(deps);
  await app.listen({ port, host });
  deps.logger.info({ port }, 'web server listening');
  if (!metricsToken(process.env) && process.env.NODE_ENV === 'production') {
    deps.logger.warn(`/metrics, the details of /healthz and the /ops report pages are open to anyone who reaches port ${port}: set ${METRICS_TOKEN_ENV} (docs/operations.md)`);
  }
  return app;
}

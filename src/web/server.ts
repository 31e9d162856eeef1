import formbody from '@fastify/formbody';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Runtime } from '../delivery/runtime';
import { registerAdminQueueRoutes } from './routes/admin-queues';
import { registerArchiveRoutes } from './routes/archive';
import { registerHealthRoutes } from './routes/health';
import { registerMetricsRoutes } from './routes/metrics';
import { registerStaticRoutes } from './routes/static';
import { registerUnsubscribeRoutes } from './routes/unsubscribe';
import { webhookRoutes } from './routes/webhooks';
import { createPageKit } from './kit';
import { registerConfirmRoutes } from './routes/confirm';
import { registerPreferencesRoutes } from './routes/preferences';
import { registerSubscribeRoutes } from './routes/subscribe';

/** The HTTP side: subscriber pages, one-click unsubscribe, health. Routes live in routes/. */
export async function buildWebServer(runtime: Runtime): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024, trustProxy: runtime.config.web.trustProxy });
  await app.register(formbody);
  registerHealthRoutes(app, runtime);
  registerStaticRoutes(app);
  // Subscriber pages: sign-up, confirm, one-click unsubscribe, preferences (one shared limiter and page shell).
  const kit = createPageKit(runtime);
  registerSubscribeRoutes(app, kit);
  registerConfirmRoutes(app, kit);
  registerUnsubscribeRoutes(app, kit);
  registerPreferencesRoutes(app, kit);
  registerArchiveRoutes(app, runtime);
  registerMetricsRoutes(app, runtime);
  await registerAdminQueueRoutes(app, runtime);
  // ESP bounce and complaint webhooks, in their own encapsulated context (raw-body parser).
  await app.register(webhookRoutes, { runtime });
  return app;
}

export async function startWebServer(runtime: Runtime, port = runtime.config.port, host = '0.0.0.0'): Promise<FastifyInstance> {
  const app = await buildWebServer(runtime);
  await app.listen({ port, host });
  runtime.logger.info({ port }, 'web server listening');
  return app;
}

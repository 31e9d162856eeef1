import path from 'node:path';
import formbody from '@fastify/formbody';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance } from 'fastify';
import { projectRoot } from '../config/load';
import type { Runtime } from '../delivery/runtime';
import { registerHealthRoutes } from './routes/health';
import { registerUnsubscribeRoutes } from './routes/unsubscribe';

/** The HTTP side: subscriber pages, one-click unsubscribe, health. Routes live in routes/. */
export async function buildWebServer(runtime: Runtime): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024, trustProxy: true });
  await app.register(formbody);
  await app.register(fastifyStatic, { root: path.join(projectRoot, 'samples', 'images'), prefix: '/static/samples/images/', decorateReply: false });
  registerHealthRoutes(app, runtime);
  registerUnsubscribeRoutes(app, runtime);
  return app;
}

export async function startWebServer(runtime: Runtime, port = runtime.config.port, host = '0.0.0.0'): Promise<FastifyInstance> {
  const app = await buildWebServer(runtime);
  await app.listen({ port, host });
  runtime.logger.info({ port }, 'web server listening');
  return app;
}

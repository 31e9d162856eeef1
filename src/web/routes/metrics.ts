import type { FastifyInstance } from 'fastify';
import { createMetricsRegistry } from '../../delivery/metrics';
import type { Runtime } from '../../delivery/runtime';

/** `/metrics`: Prometheus text, computed at scrape time for the whole install (see delivery/metrics.ts). */
export function registerMetricsRoutes(app: FastifyInstance, runtime: Runtime): void {
  const registry = createMetricsRegistry(runtime);
  app.get('/metrics', async (_request, reply) => {
    try {
      const text = await registry.metrics();
      return reply.type(registry.contentType).header('cache-control', 'no-store').send(text);
    } catch (error) {
      runtime.logger.error({ err: error }, 'metrics scrape failed');
      return reply.code(503).type('text/plain').send(`# metrics unavailable: ${(error as Error).message}\n`);
    }
  });
}

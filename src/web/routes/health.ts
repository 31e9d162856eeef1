import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../../delivery/runtime';

export function registerHealthRoutes(app: FastifyInstance, runtime: Runtime): void {
  app.get('/healthz', async (_request, reply) => {
    let redis = 'ok';
    try {
      await runtime.redis.ping();
    } catch (error) {
      redis = (error as Error).message;
    }
    const healthy = redis === 'ok';
    return reply.code(healthy ? 200 : 503).send({ status: healthy ? 'ok' : 'unhealthy', redis });
  });
}

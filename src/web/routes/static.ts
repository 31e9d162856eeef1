import fs from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { projectRoot } from '../../config/load';

const types: Record<string, string> = { '.svg': 'image/svg+xml', '.png': 'image/png', '.jpg': 'image/jpeg', '.css': 'text/css' };

/** The sample feed's illustrations. A strict name pattern keeps requests inside the folder. */
export function registerStaticRoutes(app: FastifyInstance): void {
  const dir = path.join(projectRoot, 'samples', 'images');
  app.get<{ Params: { file: string } }>('/static/samples/images/:file', async (request, reply) => {
    const { file } = request.params;
    const type = types[path.extname(file)];
    if (!/^[a-z0-9-]+\.[a-z]{3}$/.test(file) || !type) return reply.code(404).send('Not found');
    try {
      const body = await fs.readFile(path.join(dir, file));
      return reply.type(type).header('cache-control', 'public, max-age=86400').send(body);
    } catch {
      return reply.code(404).send('Not found');
    }
  });
}

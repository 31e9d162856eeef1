/** The sample feed's illustrations at /static/samples/images/: PNGs for emails, the SVG sources too. */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { projectRoot } from '../../config/load';

const types: Record<string, string> = { '.svg': 'image/svg+xml', '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.css': 'text/css' };

/** A strict name pattern keeps requests inside the folder; anything else is the site's 404 page. */
export function registerStaticRoutes(app: FastifyInstance): void {
  const dir = path.join(projectRoot, 'samples', 'images');
  app.get<{ Params: { file: string } }>('/static/samples/images/:file', async (request, reply) => {
    const { file } = request.params;
    const type = types[path.extname(file)];
    if (!/^[a-z0-9-]+\.[a-z]{3,4}$/.test(file) || !type) return reply.callNotFound();
    let body: Buffer;
    try {
      body = await fs.readFile(path.join(dir, file));
    } catch {
      return reply.callNotFound();
    }
    return reply.type(type).header('cache-control', 'public, max-age=86400').header('x-content-type-options', 'nosniff').send(body);
  });
}

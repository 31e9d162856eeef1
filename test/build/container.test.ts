import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCommand, type CliRun } from '../helpers/cli';
import { closeRuntime, redisUrl, testConfig, testRuntime, uniquePrefix } from '../helpers/runtime';
import type { Runtime } from '../../src/app/runtime';

/**
 * There is no Docker engine here, so the image is simulated from the Dockerfile itself: the
 * runtime stage's COPY lines are carried out into a folder (dist/ from a build of the sources),
 * the PATH link is made, and ops commands run there as `docker compose run` / `exec` would run them.
 */
const root = path.join(__dirname, '..', '..');
const dockerfile = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');

/** Instructions of one stage, continuation lines joined. */
function stage(name: string): string[] {
  const lines = dockerfile.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const start = lines.findIndex((l) => new RegExp(`^FROM\\s+\\S+\\s+AS\\s+${name}$`, 'i').test(l));
  if (start < 0) throw new Error(`no stage ${name} in the Dockerfile`);
  const end = lines.findIndex((l, i) => i > start && /^FROM\s/i.test(l));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** A command in the simulated image: only the environment given (plus PATH and HOME), as in a container. */
const run = (command: string, args: string[], env: Record<string, string>, cwd: string): Promise<CliRun> => runCommand(command, args, { env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir(), DAYBREAK_TEST_RUN: process.env.DAYBREAK_TEST_RUN ?? '', ...env }, cwd, inheritEnv: false });

describe('the container image (simulated from the Dockerfile)', () => {
  let image: string;
  let app: string;
  let pathDir: string;
  let runtime: Runtime;
  let prefix: string;

  beforeAll(() => {
    image = fs.mkdtempSync(path.join(os.tmpdir(), 'daybreak-image-'));
    app = path.join(image, 'app');
    pathDir = path.join(image, 'usr-local-bin');
    fs.mkdirSync(app);
    fs.mkdirSync(pathDir);
    for (const line of stage('runtime')) {
      const copy = /^COPY\s+(.+)$/i.exec(line);
      if (copy) {
        const parts = (copy[1] as string).split(/\s+/);
        const from = parts[0]?.startsWith('--from=') ? parts.shift() : undefined;
        const dest = path.resolve(app, parts.pop() as string);
        if (from) {
          // COPY --from=build /app/dist ./dist: the build stage compiles the sources.
          expect(from).toBe('--from=build');
          expect(parts).toEqual(['/app/dist']);
          // As the build stage's `RUN node scripts/build.js` (TypeScript and the Lua scripts).
          expect(stage('build')).toContain('RUN node scripts/build.js');
          execFileSync(process.execPath, [path.join(root, 'scripts', 'build.js'), dest], { cwd: root, stdio: 'inherit' });
          continue;
        }
        for (const src of parts) {
          const target = parts.length > 1 || dest.endsWith(path.sep) ? path.join(dest, path.basename(src)) : dest;
          fs.mkdirSync(path.dirname(target), { recursive: true });
          fs.cpSync(path.join(root, src), target, { recursive: true });
        }
      }
      // RUN ln -s /app/bin/daybreak.js /usr/local/bin/daybreak
      const link = /ln -s \/app\/(\S+) \/usr\/local\/bin\/(\S+)/.exec(line);
      if (link) fs.symlinkSync(path.join(app, link[1] as string), path.join(pathDir, link[2] as string));
    }
    // `npm ci --omit=dev` in the image: the project's modules stand in (a test below checks that
    // nothing the compiled code loads is a dev dependency).
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(app, 'node_modules'));
    prefix = uniquePrefix('image');
    runtime = testRuntime(testConfig(prefix));
  }, 120_000);

  afterAll(async () => {
    await closeRuntime(runtime);
    fs.rmSync(image, { recursive: true, force: true });
  });

  const entrypoint = (): string[] => {
    const m = /^ENTRYPOINT\s+(\[.+\])$/im.exec(stage('runtime').join('\n'));
    return JSON.parse(m?.[1] ?? '[]') as string[];
  };
  const envFor = (extra: Record<string, string> = {}) => ({ REDIS_URL: redisUrl(), DAYBREAK_REDIS_PREFIX: prefix, LOG_LEVEL: 'warn', ...extra });

  test('the image holds what bin/daybreak.js needs, and its entrypoint runs ops commands (`docker compose run --rm app status …`)', async () => {
    expect(fs.existsSync(path.join(app, 'dist', 'src', 'cli', 'main.js'))).toBe(true);
    expect(fs.existsSync(path.join(app, 'src'))).toBe(false);
    const [node, script] = entrypoint();
    expect(node).toBe('node');
    const imageScript = path.join(image, (script as string).replace(/^\//, ''));
    await runtime.editions.createIfAbsent({ id: 'national-2026-11-24', newsletterId: 'national', localDate: '2026-11-24', trigger: 'manual', scheduledFor: new Date('2026-11-24T06:00:00Z'), now: new Date('2026-11-24T05:00:00Z') });
    const status = await run(process.execPath, [imageScript, 'status', 'national-2026-11-24'], envFor(), app);
    expect(status.stderr).not.toContain('MODULE_NOT_FOUND');
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('national-2026-11-24 · National');
    const editions = await run(process.execPath, [imageScript, 'editions'], envFor(), app);
    expect(editions.code).toBe(0);
    expect(editions.stdout).toContain('national-2026-11-24');
  });

  test('`daybreak` is on the image\'s PATH (`docker compose exec app daybreak status …`)', async () => {
    const result = await run('daybreak', ['status', 'national'], envFor({ PATH: `${pathDir}${path.delimiter}${process.env.PATH ?? ''}` }), app);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('national-2026-11-24');
  });

  test('with NODE_ENV=production the shipped sample stories are never sent: workers and the scheduler refuse to start', async () => {
    const [, script] = entrypoint();
    const imageScript = path.join(image, (script as string).replace(/^\//, ''));
    const production = envFor({ NODE_ENV: 'production', DAYBREAK_SECRET: 'a-real-secret-0123456789' });
    for (const command of ['worker', 'scheduler', 'start']) {
      const result = await run(process.execPath, [imageScript, command], production, app);
      expect({ command, code: result.code }).toEqual({ command, code: 2 });
      expect(result.stderr).toContain('read the shipped sample stories');
      expect(result.stderr).toContain('"allowSampleSources": true');
    }
    const noSecret = await run(process.execPath, [imageScript, 'status', 'national'], envFor({ NODE_ENV: 'production' }), app);
    expect(noSecret.code).toBe(2);
    expect(noSecret.stderr).toContain('DAYBREAK_SECRET must be set in production');
  });

  test('docker-compose mounts the configuration read-only into every Daybreak container', () => {
    const compose = fs.readFileSync(path.join(root, 'docker-compose.yml'), 'utf8');
    expect(compose).toMatch(/- \$\{DAYBREAK_CONFIG_DIR:-\.\/config\}:\/app\/config:ro/);
    expect(compose).toContain('volumes: *config-volume');
  });

  test('nothing the compiled code loads is a dev dependency (the image installs with --omit=dev)', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    const builtins = new Set(require('node:module').builtinModules as string[]);
    const missing = new Set<string>();
    const walk = (dir: string) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (entry.name.endsWith('.js')) {
          for (const m of fs.readFileSync(full, 'utf8').matchAll(/require\("([^".][^"]*)"\)/g)) {
            const spec = m[1] as string;
            if (spec.startsWith('node:') || builtins.has(spec)) continue;
            const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string);
            if (!pkg.dependencies[name]) missing.add(`${name} (in ${path.relative(app, full)})`);
          }
        }
      }
    };
    walk(path.join(app, 'dist'));
    expect([...missing]).toEqual([]);
  });
});

import fs from 'node:fs';
import path from 'node:path';
import semver from 'semver';

const root = path.join(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; engines?: { node?: string } | string[]; dev?: boolean; optional?: boolean }> };

describe('a clean install on the Node the project declares', () => {
  test('every locked package supports the oldest Node in package.json engines (npm ci prints no EBADENGINE)', () => {
    const oldest = semver.minVersion(pkg.engines.node)?.version as string;
    expect(oldest).toBeDefined();
    const unsupported: string[] = [];
    for (const [where, entry] of Object.entries(lock.packages)) {
      const wanted = !Array.isArray(entry.engines) ? entry.engines?.node : undefined;
      if (!where || !wanted) continue;
      if (!semver.satisfies(oldest, wanted, { includePrerelease: true })) unsupported.push(`${where.replace(/^.*node_modules\//, '')}@${entry.version} wants node ${wanted}`);
    }
    expect(unsupported).toEqual([]);
  });

  test('the Node running the tests is one the project declares', () => {
    expect(semver.satisfies(process.version, pkg.engines.node)).toBe(true);
  });
});

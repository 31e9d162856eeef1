import type { Runtime } from '../../src/app/runtime';
import { runCli } from '../helpers/cli';
import { newslettersWithFeed, writeTestFeed } from '../helpers/feed';
import { closeRuntime, testConfig, testRuntime, uniquePrefix, writeConfigFile } from '../helpers/runtime';

describe('the command line, for a newsletter sent at 06:00 in each reader\'s zone', () => {
  let runtime: Runtime;
  let env: Record<string, string>;

  beforeAll(async () => {
    const config = testConfig(uniquePrefix('cli-add-zone'), { newsletters: newslettersWithFeed(writeTestFeed(['2026-11-24']), { delivery: 'reader-zone' }) });
    env = { DAYBREAK_CONFIG: writeConfigFile(config), LOG_LEVEL: 'error' };
    runtime = testRuntime(config);
  });
  afterAll(async () => {
    await closeRuntime(runtime);
  });

  test('--timezone stores the reader\'s zone in its canonical spelling and puts them in that zone\'s wave', async () => {
    const added = await runCli(['subscribers', 'add', 'nora@example.com', '--name', 'Nora', '--timezone', 'america/new_york'], env);
    expect(added.code).toBe(0);
    const id = /Added subscriber (\d+) /.exec(added.stdout)?.[1] as string;
    expect(added.stdout).toContain(`Added subscriber ${id} <nora@example.com>: confirmed, newsletters national, time zone America/New_York`);
    expect(await runtime.subscribers.membership.pageZoneMembers('national', 'America/New_York', 0, 10)).toEqual([id]);
  });

  test('run-edition on an edition whose build fails says why, and promises no later waves', async () => {
    const config = testConfig(uniquePrefix('cli-zone-fail'), {
      newsletters: newslettersWithFeed('/nonexistent/feed.xml', { delivery: 'reader-zone' }),
      delivery: { buildAttempts: 1 },
    });
    const failing = { DAYBREAK_CONFIG: writeConfigFile(config), LOG_LEVEL: 'fatal' };
    // Its own prefix, flushed at the end like the file's.
    const own = testRuntime(config);
    try {
      expect((await runCli(['subscribers', 'add', 'sam@example.com', '--timezone', 'Asia/Singapore'], failing)).code).toBe(0);
      const run = await runCli(['run-edition', 'national'], failing);
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/: failed\n/);
      expect(run.stdout).toContain('Reason: feed file /nonexistent/feed.xml');
      expect(run.stdout).not.toContain('Later waves');
    } finally {
      await closeRuntime(own);
    }
  });

  test('a zone that is not one is one line naming the option, exit 2, and nobody is added', async () => {
    const bad = await runCli(['subscribers', 'add', 'mars@example.com', '--timezone', 'Mars/Olympus'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('daybreak: --timezone "Mars/Olympus" is not an IANA time zone (such as Europe/London or America/New_York)\n');
    const show = await runCli(['subscribers', 'show', 'mars@example.com'], env);
    expect(show.code).toBe(1);
  });
});

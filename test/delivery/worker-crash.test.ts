import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { FixedClock } from '../../src/core/clock';
import { buildEdition } from '../../src/delivery/build-edition';
import { enqueueEdition } from '../../src/delivery/enqueue';
import type { Runtime } from '../../src/delivery/runtime';
import { waitForEdition } from '../../src/ops/watch';
import { newslettersWithFeed, writeTestFeed } from '../helpers/feed';
import { closeRuntime, testConfig, testRuntime, uniquePrefix, writeConfigFile } from '../helpers/runtime';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink';

const bin = path.join(__dirname, '..', '..', 'bin', 'daybreak.js');
const readers = 300;

function startWorker(configFile: string): ChildProcess {
  const child = spawn(process.execPath, [bin, 'worker', '--concurrency', '20'], {
    env: { ...process.env, DAYBREAK_CONFIG: configFile, LOG_LEVEL: 'error', NODE_ENV: 'test' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return child;
}

/** Pids whose parent is `pid` (Linux /proc). */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'latin1');
      // pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) found.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'latin1'));
  } catch {
    return false;
  }
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a worker killed mid-edition', () => {
  let sink: SmtpSink;
  let runtime: Runtime;
  let configFile: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    sink = await startSmtpSink({ dataDelayMs: 3 });
    const feed = writeTestFeed(['2026-11-24']);
    // Short locks, so the second worker takes over the dead one's jobs within seconds.
    const config = testConfig(uniquePrefix('crash'), {
      smtpUrl: sink.url,
      newsletters: newslettersWithFeed(feed),
      delivery: { concurrency: 20, smtpMaxConnections: 4, attempts: 5, backoffMs: 100, fanoutPageSize: 50, lockDurationMs: 2000, stalledIntervalMs: 1000 },
    });
    configFile = writeConfigFile(config);
    runtime = testRuntime(config, { clock: new FixedClock('2026-11-24T06:00:00Z') });
    for (let i = 1; i <= readers; i++) await runtime.subscribers.add({ email: `crash-${i}@example.com`, newsletters: ['national'], confirmed: true });
  });

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await closeRuntime(runtime);
    await sink.close();
  });

  test('leaves nobody with two copies and nobody missed once another worker takes over, and its build child dies with it', async () => {
    const { edition } = await enqueueEdition(runtime, { newsletterId: 'national', localDate: '2026-11-24', trigger: 'manual' });
    // Built here, on the test's fixed clock (the child runs on the real one): the child's build job
    // then finds the edition built and goes straight to fan-out and sending.
    expect(await buildEdition(runtime, edition.id)).toBe('sending');
    const first = startWorker(configFile);
    children.push(first);
    await sink.waitForCount(80, 40_000);
    // Freeze the sink's answers so no message sits between "accepted" and "recorded", then kill -9:
    // everything in flight dies unanswered, like a crash before the SMTP server said 250.
    sink.hold();
    await new Promise((r) => setTimeout(r, 300));
    // The worker's sandboxed build child (it ran the fan-out) must die with it.
    const buildChildren = childrenOf(first.pid as number);
    expect(buildChildren.length).toBeGreaterThan(0);
    const exited = new Promise((r) => first.once('exit', r));
    first.kill('SIGKILL');
    await exited;
    await until(() => buildChildren.every((pid) => !alive(pid)), 15_000, 'the build child to exit with its killed worker');
    // Let the sink see the dead connections close before it answers anything again.
    await new Promise((r) => setTimeout(r, 500));
    sink.release();
    const acceptedBeforeCrash = sink.messages.length;
    let claimedByTheDead = 0;
    for await (const entry of runtime.editions.scanLedger(edition.id)) if (entry.kind === 'claimed') claimedByTheDead += 1;
    // The crash really left sends half-done (claimed, never answered), for the next worker to take over.
    expect(claimedByTheDead).toBeGreaterThan(0);
    expect(acceptedBeforeCrash).toBeLessThan(readers);

    const second = startWorker(configFile);
    children.push(second);
    const done = await waitForEdition(runtime, edition.id, { timeoutMs: 60_000 });
    const stopped = new Promise((r) => second.once('exit', r));
    second.kill('SIGTERM');
    await stopped;

    expect(done.state).toBe('done');
    expect(done.sent).toBe(readers);
    const recipients = sink.messages.flatMap((m) => m.recipients);
    const copies = new Map<string, number>();
    for (const r of recipients) copies.set(r, (copies.get(r) ?? 0) + 1);
    const doubled = [...copies].filter(([, n]) => n > 1);
    expect(doubled).toEqual([]);
    expect(copies.size).toBe(readers);
  });
});

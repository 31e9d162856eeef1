/** After the run: say which suites were skipped and why, and fail the run if a test left a process behind. */
import fs from 'node:fs';
import path from 'node:path';
import type { PrivateRedis } from '../../src/core/redis-server';

interface Leftover {
  pid: number;
  command: string;
}

/** Processes carrying this run's id in their environment, other than jest itself and its workers. */
function processesOfThisRun(runId: string, exclude: Set<number>): Leftover[] {
  const found: Leftover[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || exclude.has(pid)) continue;
    try {
      const environ = fs.readFileSync(`/proc/${pid}/environ`, 'latin1');
      if (!environ.includes(`DAYBREAK_TEST_RUN=${runId}\0`)) continue;
      const status = fs.readFileSync(`/proc/${pid}/status`, 'latin1');
      if (/^State:\s+Z/m.test(status)) continue;
      const command = fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ').trim();
      // jest's own worker processes end after the teardown; they are not the tests' leftovers.
      if (/jest-worker|processChild\.js|jest-cli|node_modules\/\.bin\/jest|\bjest\b.*\.js$/.test(command)) continue;
      found.push({ pid, command });
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

export default async function globalTeardown(): Promise<void> {
  const redis = (globalThis as { __daybreakRedis?: PrivateRedis }).__daybreakRedis;
  if (redis) await redis.stop();

  const skips = process.env.DAYBREAK_TEST_SKIPS;
  if (skips && fs.existsSync(skips)) {
    const lines = fs.readFileSync(skips, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { suite: string; reason: string });
    if (lines.length) {
      console.log('\n[tests] SKIPPED (real-world data missing; with CI=true these fail instead):');
      for (const { suite, reason } of lines) console.log(`  - ${suite}: ${reason}`);
    }
    fs.rmSync(path.dirname(skips), { recursive: true, force: true });
  }

  const runId = process.env.DAYBREAK_TEST_RUN;
  if (!runId || process.platform !== 'linux') return;
  const exclude = new Set([process.pid, process.ppid]);
  let left = processesOfThisRun(runId, exclude);
  // Give processes that are closing a moment to finish.
  for (let i = 0; i < 50 && left.length; i++) {
    await new Promise((r) => setTimeout(r, 100));
    left = processesOfThisRun(runId, exclude);
  }
  if (left.length) {
    for (const p of left) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    throw new Error(`Tests left ${left.length} process(es) running after the run (now killed):\n${left.map((p) => `  pid ${p.pid}: ${p.command.slice(0, 200)}`).join('\n')}`);
  }
}

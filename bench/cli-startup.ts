/**
 * How fast the `daybreak` command answers, as people and cron call it (bin/daybreak.js), beside
 * the floor it cannot beat: a bare `node -e 0` measured in the same run.
 *   node --import tsx bench/cli-startup.ts [--runs 15]
 * Targets (issue 14): --help <= 0.3 s, editions and status <= 0.7 s on the 2-core machine.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { loadConfig } from '../src/config/load';
import { silentLogger } from '../src/core/logger';
import { Runtime } from '../src/delivery/runtime';

const root = path.join(__dirname, '..');
const bin = path.join(root, 'bin', 'daybreak.js');
const runsArg = process.argv.indexOf('--runs');
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 15;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** Median wall time of a command, in seconds; fails loudly if the command fails. */
function time(args: string[], env: NodeJS.ProcessEnv): number {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = process.hrtime.bigint();
    const result = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    samples.push(Number(process.hrtime.bigint() - started) / 1e9);
    if (result.status !== 0) throw new Error(`${args.join(' ')} exited ${result.status}: ${result.stderr.toString()}`);
  }
  return median(samples);
}

async function main(): Promise<void> {
  // A prefix of its own with one edition, so `status` has something to show.
  const prefix = `bench-cli-${crypto.randomBytes(4).toString('hex')}`;
  const runtime = new Runtime(loadConfig({ overrides: { redisPrefix: prefix } }), { logger: silentLogger });
  await runtime.editions.createIfAbsent({ id: 'national-2026-11-30', newsletterId: 'national', localDate: '2026-11-30', trigger: 'manual', scheduledFor: new Date('2026-11-30T06:00:00Z'), now: new Date() });
  const env = { ...process.env, DAYBREAK_REDIS_PREFIX: prefix, LOG_LEVEL: 'warn' };
  // Built now, so "compiled" really is dist/ (bin/daybreak.js falls back to tsx when dist/ is older than the sources).
  execFileSync(process.execPath, [path.join(root, 'scripts', 'build.js')], { stdio: 'inherit' });
  try {
    const floor = time(['-e', '0'], env);
    const rows: Array<[string, number, number | undefined]> = [];
    const measure = (label: string, args: string[], target?: number) => {
      const dist = time([bin, ...args], env);
      const source = time([bin, ...args], { ...env, DAYBREAK_FROM_SOURCE: '1' });
      rows.push([`${label} (compiled)`, dist, target], [`${label} (from source, tsx)`, source, undefined]);
    };
    measure('daybreak --help', ['--help'], 0.3);
    measure('daybreak editions', ['editions'], 0.7);
    measure('daybreak status national', ['status', 'national'], 0.7);
    console.log(`CLI start-up, median of ${runs} runs each (node ${process.version}, ${process.platform}); floor: bare \`node -e 0\` = ${floor.toFixed(3)} s`);
    for (const [label, seconds, target] of rows) {
      const verdict = target === undefined ? '' : seconds <= target ? `  target <= ${target} s: met` : `  target <= ${target} s: NOT met`;
      console.log(`  ${label.padEnd(44)} ${seconds.toFixed(3)} s  (${(seconds / floor).toFixed(1)}x the floor)${verdict}`);
    }
  } finally {
    await runtime.deleteAllKeys();
    await runtime.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

/** Real-world corpora live beside the project (../shared/corpora): a missing one is loud, and fatal under CI=true. */
import fs from 'node:fs';
import path from 'node:path';

export const corporaRoot = path.resolve(__dirname, '..', '..', '..', 'shared', 'corpora');

export interface Corpus {
  dir: string;
  present: boolean;
  /** `describe`, or `describe.skip` when the corpus is absent (recorded and printed at the end of the run). */
  describe: jest.Describe;
  test: jest.It;
}

/** Notes a skipped suite for the run's summary (global teardown prints the list). */
export function recordSkip(reason: string): void {
  const file = process.env.DAYBREAK_TEST_SKIPS;
  const suite = path.relative(path.join(__dirname, '..', '..'), expect.getState().testPath ?? 'unknown test file');
  if (file) fs.appendFileSync(file, `${JSON.stringify({ suite, reason })}\n`);
  console.warn(`[${suite}] SKIPPED: ${reason}`);
}

/**
 * A corpus folder under ../shared/corpora. `marker` is a file that must be there for the corpus
 * to count as present. Under CI=true a missing corpus throws, which fails the suite.
 */
export function corpus(relative: string, marker = ''): Corpus {
  const dir = path.join(corporaRoot, relative);
  const present = fs.existsSync(path.join(dir, marker));
  if (!present) {
    const reason = `${path.join(dir, marker)} is absent (real-world data from ../shared/corpora; see its README.md)`;
    if (process.env.CI === 'true') throw new Error(`A corpus the tests need is missing and CI=true: ${reason}`);
    recordSkip(reason);
  }
  return { dir, present, describe: present ? describe : describe.skip, test: present ? test : test.skip };
}

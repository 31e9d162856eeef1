// Entry for the bounce parser's worker thread when running from TypeScript source (tests,
// `npx daybreak`): a worker thread has no tsx loader of its own, so register it first.
require('tsx/cjs');
require('./parse-worker.ts');

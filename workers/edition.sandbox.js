// Entry for BullMQ's sandboxed edition processor when running from TypeScript source:
// the child process has no tsx loader of its own, so register it before loading the processor.
require('tsx/cjs');
module.exports = require('./edition.processor.ts');

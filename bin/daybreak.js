#!/usr/bin/env node
// The `daybreak` command, however it is reached: `npx daybreak`, `npm link`, a global install, a
// symlink on the PATH, cron, the container. It always runs the CLI itself (never relying on how it
// was invoked). Compiled JavaScript (dist/, built by `npm ci` through `prepare`) is used when it is
// at least as new as the sources, so start-up stays fast; otherwise (a fresh edit, or no build)
// the TypeScript sources run through tsx.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const compiled = path.join(root, 'dist', 'src', 'cli', 'main.js');
// Written by scripts/build.js after everything else: a build that stopped half-way has none.
const stamp = path.join(root, 'dist', '.built');

/** Newest modification time of the files under a folder (0 when it does not exist). */
function newestMtime(dir) {
  let newest = 0;
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(full));
    else if (/\.(ts|js|lua)$/.test(entry.name)) newest = Math.max(newest, fs.statSync(full).mtimeMs);
  }
  return newest;
}

function compiledIsCurrent() {
  let built;
  try {
    built = fs.statSync(stamp).mtimeMs;
  } catch {
    return false;
  }
  // The image ships dist/ without sources: nothing to be stale against.
  return newestMtime(path.join(root, 'src')) <= built && newestMtime(path.join(root, 'workers')) <= built;
}

let cli;
if (process.env.DAYBREAK_FROM_SOURCE !== '1' && compiledIsCurrent()) {
  cli = require(compiled);
} else {
  require('tsx/cjs');
  cli = require('../src/cli/main.ts');
}
cli.run(process.argv);

// Runs on `npm ci` / `npm install` (npm's `prepare`): compiles the TypeScript into dist/ so
// `npx daybreak` starts from JavaScript. Skipped, successfully, where there is nothing to build
// with (a production install without TypeScript, or a Docker layer before the sources are copied).
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
} catch {
  process.exit(0);
}
if (!fs.existsSync(path.join(root, 'tsconfig.build.json')) || !fs.existsSync(path.join(root, 'src'))) process.exit(0);
execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });

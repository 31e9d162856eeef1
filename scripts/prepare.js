// Runs on `npm ci` / `npm install` (npm's `prepare`): builds dist/ so `npx daybreak` starts from
// JavaScript. Skipped, successfully, where there is nothing to build with (a production install
// without TypeScript, or a Docker layer before the sources are copied).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
try {
  require.resolve('typescript/bin/tsc', { paths: [root] });
} catch {
  process.exit(0);
}
if (!fs.existsSync(path.join(root, 'tsconfig.build.json')) || !fs.existsSync(path.join(root, 'src'))) process.exit(0);
require('./build.js').build();

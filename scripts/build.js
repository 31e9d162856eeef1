// `npm run build` (and `prepare`, on npm ci): TypeScript into dist/, then the files the compiled code
// reads beside itself (Lua scripts) copied into the same places under dist/.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');

function copyAssets(fromDir, toDir) {
  if (!fs.existsSync(fromDir)) return;
  for (const entry of fs.readdirSync(fromDir, { withFileTypes: true })) {
    const from = path.join(fromDir, entry.name);
    const to = path.join(toDir, entry.name);
    if (entry.isDirectory()) copyAssets(from, to);
    else if (entry.name.endsWith('.lua')) {
      fs.mkdirSync(toDir, { recursive: true });
      fs.copyFileSync(from, to);
    }
  }
}

/** Compiles into `outDir` (default dist/) and copies the assets; throws if tsc fails. */
function build(outDir = path.join(root, 'dist')) {
  const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
  execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', outDir], { stdio: 'inherit', cwd: root });
  copyAssets(path.join(root, 'src'), path.join(outDir, 'src'));
  copyAssets(path.join(root, 'workers'), path.join(outDir, 'workers'));
  // Written last: bin/daybreak.js compares the sources with this file's time.
  fs.writeFileSync(path.join(outDir, '.built'), `${new Date().toISOString()}\n`);
}

module.exports = { build };
if (require.main === module) build(process.argv[2] ? path.resolve(process.argv[2]) : undefined);

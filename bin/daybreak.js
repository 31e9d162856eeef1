#!/usr/bin/env node
// Runs the TypeScript CLI from source: tsx compiles on load, so `npx daybreak` works straight
// from a fresh clone. The container image runs the compiled dist/ instead (see Dockerfile).
require('tsx/cjs');
require('../src/cli/main.ts');

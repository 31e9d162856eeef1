/**
 * The layers of src/, bottom to top (docs/architecture.md): a module may import only from its own
 * folder and the folders below it. `npm test` runs this check before the tests, so a back-import
 * fails the build.
 */
const layers = [
  ['core'],
  ['config'],
  ['articles'],
  ['render'],
  ['mail'],
  ['subscribers'],
  ['delivery'],
  ['bounces'],
  ['ops'],
  ['web'],
  ['app'],
  ['cli'],
];

const folder = (names) => `^src/(${names.join('|')})/`;

const forbidden = layers.flatMap((names, i) => {
  const above = layers.slice(i + 1).flat();
  if (above.length === 0) return [];
  return [{
    name: `${names.join('-')}-imports-only-downward`,
    comment: `src/${names.join(', src/')} may not import from the layers above it (${above.join(', ')})`,
    severity: 'error',
    from: { path: folder(names) },
    to: { path: folder(above) },
  }];
});

module.exports = {
  forbidden: [
    ...forbidden,
    {
      name: 'src-never-imports-entry-points',
      comment: 'workers/ holds entry shims: src/ must not import them',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^workers/' },
    },
    {
      name: 'no-circular',
      comment: 'modules must not import each other in a circle',
      severity: 'error',
      from: { path: '^(src|workers)/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(test|bench|scripts|dist)/' },
  },
};

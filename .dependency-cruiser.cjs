// The import rules of src/ (`npm run deps`): no circular imports, and the layers that the folders' README.md
// "May import" lines and biome.json's noRestrictedImports state. Type-only imports count: a layer that needs another's
// types depends on it all the same.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A circle of imports has no layer order: break it by moving the shared part down.',
      from: { path: '^src/', pathNot: '^src/db/generated/' },
      to: { circular: true, pathNot: '^src/db/generated/' },
    },
    {
      name: 'core-imports-only-core',
      severity: 'error',
      comment: 'src/core is pure domain logic: it imports only other core modules (no I/O, no libraries).',
      from: { path: '^src/core/' },
      to: { pathNot: '^src/core/' },
    },
    {
      name: 'reports-imports-only-core',
      severity: 'error',
      comment: 'src/reports renders a report model: it imports only src/core (and itself).',
      from: { path: '^src/reports/' },
      to: { path: '^src/', pathNot: '^src/(core|reports)/' },
    },
    {
      name: 'reports-no-io-libraries',
      severity: 'error',
      comment: 'src/reports is pure: no I/O libraries or Node built-ins.',
      from: { path: '^src/reports/' },
      to: { dependencyTypes: ['core', 'npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'config-imports-only-shared',
      severity: 'error',
      comment: 'src/config may import src/shared (errors) only, besides zod and Node built-ins.',
      from: { path: '^src/config/' },
      to: { path: '^src/', pathNot: '^src/(config|shared)/' },
    },
    {
      name: 'shared-imports-only-shared',
      severity: 'error',
      comment: 'src/shared is the bottom layer beside core: it imports nothing else in src/.',
      from: { path: '^src/shared/' },
      to: { path: '^src/', pathNot: '^src/shared/' },
    },
    {
      name: 'booru-imports-core-shared-config',
      severity: 'error',
      comment:
        'src/booru may import src/core, src/shared and config types (src/booru/README.md); never worker, dashboard, reports, bin or demo (biome.json).',
      from: { path: '^src/booru/' },
      to: { path: '^src/', pathNot: '^src/(booru|core|shared|config)/' },
    },
    {
      name: 'tagger-imports-core-shared-config',
      severity: 'error',
      comment:
        'src/tagger may import src/core, src/shared and config types only (src/tagger/README.md); never worker, dashboard, reports, bin or demo (biome.json).',
      from: { path: '^src/tagger/' },
      to: { path: '^src/', pathNot: '^src/(tagger|core|shared|config)/' },
    },
    {
      name: 'db-imports-core-shared',
      severity: 'error',
      comment:
        'src/db may import src/core, src/shared and its generated client (src/db/README.md); never booru, tagger, worker, dashboard, reports, bin or demo.',
      from: { path: '^src/db/' },
      to: { path: '^src/', pathNot: '^src/(db|core|shared)/' },
    },
    {
      name: 'worker-imports-core-and-adapters',
      severity: 'error',
      comment:
        'src/worker may import core, shared, config types and the adapters booru, tagger, db (src/worker/README.md); never dashboard, reports, bin or demo.',
      from: { path: '^src/worker/' },
      to: { path: '^src/', pathNot: '^src/(worker|core|shared|config|booru|tagger|db)/' },
    },
    {
      name: 'dashboard-imports-core-db-reports',
      severity: 'error',
      comment:
        'src/dashboard may import core, shared, the db repositories, config types and the src/reports renderers (src/dashboard/README.md); never worker, bin or demo.',
      from: { path: '^src/dashboard/' },
      to: { path: '^src/', pathNot: '^src/(dashboard|core|shared|db|config|reports)/' },
    },
    {
      name: 'export-imports-core-shared-db',
      severity: 'error',
      comment:
        'src/export may import core, shared and db (src/export/README.md); never worker, dashboard, reports, bin or demo; src/bin wires it.',
      from: { path: '^src/export/' },
      to: { path: '^src/', pathNot: '^src/(export|core|shared|db)/' },
    },
    {
      name: 'demo-not-bin',
      severity: 'error',
      comment: 'bin wires the demo, not the other way round (src/demo/README.md).',
      from: { path: '^src/demo/' },
      to: { path: '^src/bin/' },
    },
    {
      name: 'src-not-test',
      severity: 'error',
      comment: 'Production code never imports test code or test helpers.',
      from: { path: '^src/' },
      to: { path: '^test/' },
    },
    {
      name: 'src-not-dev-dependencies',
      severity: 'error',
      comment: 'src/ runs after `npm ci --omit=dev`: it may import only dependencies, not devDependencies.',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'not-to-unlisted-package',
      severity: 'error',
      comment: 'Every imported package is listed in package.json.',
      from: {},
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'Every import resolves to a file or a package.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: ['node_modules', '^src/db/generated/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};

import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

// Every kafkajs client comes from src/kafka/kafka-client.ts, so all of them get the same fixes.
const oneKafkaFactory = {
  selector: "NewExpression[callee.name='Kafka']",
  message: 'Build kafkajs clients with kafkaClient() from src/kafka/kafka-client.ts.',
};
const reasonedSkip =
  'Skip with skipUnless() or requires() from test/helpers/requirements.ts, so the reason reaches the closing lines of make test.';

// The layers of src/, bottom up. A folder imports from its own layer and the layers below, never
// from above: errors.ts and version.ts (which import no folder) at the very bottom, then time,
// typed emitters and seeded randomness, the Gong contract and the settings' declarations, the
// schemas and the transform, the mappings, the Kafka adapters, the decoders and the receipts, the
// delivery engine, observability and the tools, the wiring, and the commands on top.
const layers = [
  ['shared'],
  // settings.ts names the inferred rules of gong/rule-catalogue.ts; gong/validate.ts reads the
  // validation settings' declarations.
  ['config', 'gong'],
  ['schemas', 'transform'],
  ['mapping'],
  // The runtime prepares records with decode/, and the decoders share the halt state and the
  // dead-letter types of kafka/: one layer. receipts/ writes through kafka/'s batched producer
  // and halt state, and the runtime waits for its acknowledgements: the same layer.
  ['kafka', 'decode', 'receipts'],
  ['delivery'],
  ['observability', 'sandbox', 'status'],
  ['wiring'],
  ['doctor'],
  ['cli'],
];
const folderAbove = (level) => layers.slice(level + 1).flat();
// From src/<folder>/... a folder is reached through ../; from src/*.ts through ./.
const importsFrom = (folder, fromRoot) => (fromRoot ? `^\\./${folder}/` : `^(\\.\\./)+${folder}/`);
// `except` names files above the layer that may still be imported, by their path in src/.
const layerRule = (folders, { allowTypeImportsFrom = [], fromRoot = false, except = [] } = {}) => [
  'error',
  {
    patterns: folders.map((folder) => ({
      regex: `${importsFrom(folder, fromRoot)}${except
        .filter((path) => path.startsWith(`${folder}/`))
        .map((path) => `(?!${path.slice(folder.length + 1).replaceAll('.', '\\.')}$)`)
        .join('')}`,
      message: `${folder}/ is in a layer above this module's (see the layers in eslint.config.js).`,
      ...(allowTypeImportsFrom.includes(folder) ? { allowTypeImports: true } : {}),
    })),
  },
];
const layering = [
  {
    files: ['src/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': layerRule(layers.flat(), { fromRoot: true }) },
  },
  ...layers.flatMap((folders, level) =>
    folders.map((folder) => ({
      files: [`src/${folder}/**`],
      rules: { '@typescript-eslint/no-restricted-imports': layerRule(folderAbove(level)) },
    })),
  ),
  {
    // The settings validate INPUT_FORMATS against the formats' names, which names.ts keeps apart
    // from the decoders so that this loads none of them.
    files: ['src/config/settings.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': layerRule(
        folderAbove(layers.findIndex((l) => l.includes('config'))),
        { except: ['decode/formats/names.ts'] },
      ),
    },
  },
  {
    // Known exceptions, pending: the runtime drives the engine (consume, deliver, commit), so it
    // sits above delivery/ in fact. Its assembly and its record handler use the engine's and the
    // limiter's types only; moving those two above delivery/ would make this go. The quota ledger
    // keeps the limiter's daily spend in Kafka and takes the limiter's types the same way.
    files: ['src/kafka/runtime.ts', 'src/kafka/record-handling.ts', 'src/kafka/quota-ledger.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': layerRule(
        folderAbove(layers.findIndex((l) => l.includes('kafka'))),
        { allowTypeImportsFrom: ['delivery'] },
      ),
    },
  },
];

// Settings stop at the wiring: these folders take typed options, which src/wiring/ (and the
// commands) build from the settings once; none of their modules imports src/config/.
const takesTypedOptions = [
  'shared',
  'gong',
  'schemas',
  'transform',
  'mapping',
  'decode',
  'kafka',
  'receipts',
  'delivery',
  'sandbox',
];
// Known exceptions, pending: modules that still read settings themselves. The limiter's settings
// are being reworked with the limiter; the validation settings' defaults come from their
// declarations.
const readsSettingsPending = ['src/gong/validate.ts', 'src/delivery/rate-limit/create-rate-limiter.ts'];
const settingsAtTheWiring = {
  files: takesTypedOptions.map((folder) => `src/${folder}/**`),
  ignores: readsSettingsPending,
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          {
            regex: importsFrom('config', false),
            message:
              'Take typed options; build them from the settings in src/wiring/ (settings stop at the wiring).',
          },
        ],
      },
    ],
  },
};

// No function in src/ runs past 200 lines, blank lines and comments aside: one that no longer fits
// on two screens wants named parts a reader can find.
const maxFunctionLines = { skipBlankLines: true, skipComments: true, IIFEs: true };
const functionLength = [
  { files: ['src/**'], rules: { 'max-lines-per-function': ['error', { max: 200, ...maxFunctionLines }] } },
];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.tools/', '.stack/', 'coverage/', 'helm/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // config.ts is the only module allowed to read the environment.
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Read settings through src/config (config.ts).' },
      ],
    },
  },
  {
    files: ['src/config/**', 'test/**', 'bench/**', 'scripts/**', 'vitest.config.ts', 'src/cli/**'],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    ignores: ['src/kafka/kafka-client.ts'],
    rules: { 'no-restricted-syntax': ['error', oneKafkaFactory] },
  },
  ...layering,
  settingsAtTheWiring,
  ...functionLength,
  {
    // A test is never skipped silently: every skip goes through test/helpers/requirements.ts, which
    // records its reason for the closing lines of `make test` (and fails CI).
    files: ['test/**'],
    ignores: ['test/helpers/requirements.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        oneKafkaFactory,
        {
          selector: 'CallExpression[callee.property.name=/^(skip|skipIf|runIf|todo|only)$/]',
          message: reasonedSkip,
        },
        { selector: 'ObjectExpression > Property[key.name=/^(skip|todo|only)$/]', message: reasonedSkip },
      ],
    },
  },
);

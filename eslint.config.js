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

// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';
import promise from 'eslint-plugin-promise';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bin/**', '.node-red/**', 'screenshots/**'] },
  eslint.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  promise.configs['flat/recommended'],
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      'promise/always-return': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true, argsIgnorePattern: '^_' }],
      // `import x = require()` is how TypeScript imports the `export =` modules Node-RED needs.
      '@typescript-eslint/no-require-imports': ['error', { allowAsImport: true }],
    },
  },
  {
    files: ['nodes/**/*.ts'],
    rules: {
      // Node-RED's convention for the node inside its constructor and handlers.
      '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['node'] }],
      // An input handler completes through Node-RED's done(), also when the work was a promise.
      'promise/no-callback-in-promise': 'off',
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Vector fixtures are untyped JSON and mocha's `this` is typed loosely.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Generators spread ASCII alphabets into characters.
      '@typescript-eslint/no-misused-spread': 'off',
      'no-restricted-properties': [
        'error',
        { object: 'it', property: 'only', message: 'No focused tests.' },
        { object: 'it', property: 'skip', message: 'No skipped tests.' },
        { object: 'describe', property: 'only', message: 'No focused tests.' },
        { object: 'describe', property: 'skip', message: 'No skipped tests.' },
      ],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['**/*.mjs', '**/*.js', '**/*.cjs'],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setTimeout: 'readonly' },
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
  },
  {
    // Bodies of the demo's function nodes: Node-RED wraps them in a function with these in scope.
    files: ['scripts/dashboard/*.js'],
    languageOptions: {
      sourceType: 'script',
      parserOptions: { ecmaFeatures: { globalReturn: true } },
      globals: { msg: 'writable', context: 'readonly', flow: 'readonly', node: 'readonly', env: 'readonly', Date: 'readonly' },
    },
  },
);

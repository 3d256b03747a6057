import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'data/', 'src/generated/', 'coverage/', '.scratch/', 'clients/*/dist/', 'clients/*/src/generated/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', performance: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', fetch: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Read settings through loadConfig(env) only.' }],
    },
  },
  {
    // The console's browser modules (console/, served as they are, no build step).
    files: ['console/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(
        ['window', 'document', 'location', 'history', 'localStorage', 'Node', 'Event', 'KeyboardEvent', 'HTMLElement', 'HTMLDialogElement', 'HTMLInputElement', 'HTMLSelectElement', 'HTMLButtonElement', 'Headers', 'Blob', 'TextEncoder', 'atob', 'btoa', 'setInterval', 'clearInterval'].map((name) => [name, 'readonly']),
      ),
    },
  },
  {
    files: ['src/cli/main.ts', 'test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.js', 'vitest.config.ts', 'clients/*/examples/**'],
    rules: { 'no-restricted-properties': 'off' },
  },
);

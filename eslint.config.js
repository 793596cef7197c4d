import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import globals from 'globals'

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      'docs/api/**',
      'test-results/**',
      'playwright-report/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
    },
  },
  { files: ['**/*.js', '**/*.mjs', 'e2e/consumer/**'], ...tseslint.configs.disableTypeChecked },
  {
    files: ['e2e/fixture/*.js', 'bench/*.js', 'packages/browser/examples/*.js'],
    languageOptions: { globals: globals.browser },
  },
  { files: ['e2e/consumer/*.mjs'], languageOptions: { globals: globals.node } },
)

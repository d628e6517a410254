import js from '@eslint/js'
import globals from 'globals'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', 'node_modules/', 'load/results/', 'src/client/openapi.ts'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname }
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-extraneous-class': 'off'
    }
  },
  {
    // A handler that returns the reply hands Fastify a thenable it waits on with stream.finished
    // (six listeners a request, every time reply batching holds the answer): return the payload.
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-syntax': ['error', ...[
        'ReturnStatement > CallExpression[callee.property.name="send"]',
        'ReturnStatement > AwaitExpression > CallExpression[callee.property.name="send"]',
        'ReturnStatement > Identifier[name="reply"]',
        'ReturnStatement > CallExpression[callee.object.name="reply"]',
        'ArrowFunctionExpression > CallExpression.body[callee.property.name="send"]'
      ].map((selector) => ({ selector, message: 'Return the payload, having set the status and headers on reply (a synchronous handler may also send and return nothing).' }))]
    }
  },
  { files: ['eslint.config.js'], ...tseslint.configs.disableTypeChecked }
)

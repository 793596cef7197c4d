import { defaultServerConditions } from 'vite'
import { defineConfig } from 'vitest/config'

/**
 * Inside the workspace the packages run from their TypeScript sources: their `exports` lead
 * with a `@ferry/source` condition that only the workspace's tools set (here, in
 * tsconfig.base.json, in `.npmrc` for Node, and in packages/browser/vite.config.ts).
 */
const resolve = { conditions: ['@ferry/source', ...defaultServerConditions] }
const ssr = { resolve: { conditions: resolve.conditions, externalConditions: ['@ferry/source'] } }

export default defineConfig({
  test: {
    projects: [
      {
        resolve,
        ssr,
        test: {
          name: 'node',
          root: 'packages/node',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 30_000,
        },
      },
      {
        resolve,
        ssr,
        test: {
          name: 'browser',
          root: 'packages/browser',
          include: ['src/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        resolve,
        ssr,
        test: {
          name: 'core',
          root: 'packages/core',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
        },
      },
      {
        resolve,
        ssr,
        test: {
          name: 'chat',
          root: 'packages/chat',
          include: ['src/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
        },
      },
      {
        resolve,
        ssr,
        test: {
          name: 'gossip',
          root: 'packages/gossip',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
        },
      },
      {
        resolve,
        ssr,
        test: {
          name: 'webtransport-node',
          root: 'packages/webtransport-node',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 30_000,
        },
      },
      {
        resolve,
        ssr,
        test: {
          name: 'wire',
          root: 'packages/wire',
          include: ['src/**/*.test.ts'],
          environment: 'node',
        },
      },
    ],
  },
})

import { defaultClientConditions, defineConfig } from 'vite'

/**
 * Builds the self-contained bundles `dist/ferry.js` (ESM) and `dist/ferry.iife.js` (a script
 * tag's `window.Ferry`) beside the package's own `tsc` output; the dev server (`vite` in this
 * folder) serves the examples in `examples/`. Both read the workspace's sources through the
 * `@ferry/source` export condition.
 */
export default defineConfig({
  root: import.meta.dirname,
  server: { host: '127.0.0.1' },
  resolve: { conditions: ['@ferry/source', ...defaultClientConditions] },
  build: {
    outDir: 'dist',
    emptyOutDir: false,
    sourcemap: true,
    target: 'es2022',
    lib: {
      entry: 'src/index.ts',
      name: 'Ferry',
      formats: ['es', 'iife'],
      fileName: (format) => (format === 'es' ? 'ferry.js' : 'ferry.iife.js'),
    },
    // The package ships its sources; the maps point at them rather than carrying copies.
    rollupOptions: { output: { sourcemapExcludeSources: true } },
  },
})

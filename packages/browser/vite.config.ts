import { defineConfig } from 'vite'

/**
 * Builds `dist/ferry.js` (ESM) and `dist/ferry.iife.js` (a script tag's `window.Ferry`); the
 * dev server (`vite` in this folder) serves the examples in `examples/`.
 */
export default defineConfig({
  root: import.meta.dirname,
  server: { host: '127.0.0.1' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
    lib: {
      entry: 'src/index.ts',
      name: 'Ferry',
      formats: ['es', 'iife'],
      fileName: (format) => (format === 'es' ? 'ferry.js' : 'ferry.iife.js'),
    },
  },
})

/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The build is committed (web/dist, embedded in the Go binary) and CI checks
// that `npm ci && npm run build` reproduces it byte for byte, so everything
// here aims at deterministic output: content hashes only, no timestamps, no
// absolute paths, no inlined styles or scripts (latchkey's CSP forbids them).
export default defineConfig(({ command }) => ({
  base: '/',
  plugins: [
    svelte({
      // Scoped class names from the CSS itself, not from the absolute path
      // of the component, so a checkout anywhere builds the same bytes.
      // (The dev server keeps the default, which suits hot reload.)
      compilerOptions:
        command === 'build' ? { cssHash: ({ css, hash }) => `svelte-${hash(css)}` } : {},
    }),
  ],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    // Never inline CSS into JS or assets into data: URLs we did not choose.
    cssCodeSplit: false,
    assetsInlineLimit: 0,
    sourcemap: false,
    reportCompressedSize: false,
    target: 'es2022',
    rolldownOptions: {
      output: {
        entryFileNames: 'assets/[name]-[hash].js',
        chunkFileNames: 'assets/[name]-[hash].js',
        assetFileNames: 'assets/[name]-[hash][extname]',
      },
    },
  },
  server: {
    // `npm run dev` next to `latchkey serve --mode proxy --spa-upstream
    // http://localhost:5173`, or with the API proxied from here:
    proxy: { '/api': 'http://127.0.0.1:8080' },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
}));

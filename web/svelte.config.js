import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

// TypeScript in <script lang="ts"> blocks; read by the Vite plugin and svelte-check.
export default {
  preprocess: vitePreprocess(),
};

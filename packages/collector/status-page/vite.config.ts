import { defineConfig } from "vite";

/**
 * Builds the page into dist/ with relative asset paths, so the collector can
 * serve it at `/` (or behind a path prefix) under a CSP without 'unsafe-inline'.
 */
export default defineConfig({
  root: import.meta.dirname,
  base: "./",
  // No public dir: every file is an asset under assets/, which is all the collector serves besides index.html.
  publicDir: false,
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2020",
    // The polyfill would be one more script; one entry chunk needs no preloading.
    modulePreload: { polyfill: false },
    // Keep every asset a file: the CSP allows data: for images only.
    assetsInlineLimit: 0,
  },
  server: {
    // `pnpm dev` against a collector running on its default address.
    proxy: {
      "/api": { target: "http://127.0.0.1:8787", changeOrigin: false },
    },
  },
});

import { defineConfig } from "vite";

// The web app: plain TypeScript, built to dist/web and served by the gateway
// with a strict Content-Security-Policy (no inline scripts, no eval).
export default defineConfig({
  root: "web",
  base: "/",
  build: {
    outDir: "../dist/web",
    emptyOutDir: true,
    target: "es2022",
    modulePreload: { polyfill: false },
  },
});

// Builds the web UI into dist/ui (served by the webserver at `/`). Everything is bundled:
// no CDN, no external font. JSX through Vite's own transform (no React plugin needed).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: here,
  base: '/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: path.resolve(here, '../../dist/ui'),
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: true,
    chunkSizeWarningLimit: 1024,
  },
  server: { proxy: { '/api': 'http://127.0.0.1:8080', '/queues': 'http://127.0.0.1:8080' } },
});

// The console's build: one page, every asset bundled (no request leaves the
// server's origin), the heavy screens (graph, map, playground, dashboards)
// split into chunks loaded when first opened. `anju serve` embeds `dist/`.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 4096,
    assetsInlineLimit: 0,
    rollupOptions: {
      // GraphiQL's "use no memo" directives are for the React compiler, which
      // this build does not run: nothing to report
      onwarn(w, warn) {
        if (w.code !== 'MODULE_LEVEL_DIRECTIVE') warn(w);
      },
    },
  },
  worker: { format: 'es' },
  server: {
    proxy: {
      '/graphql': { target: 'http://127.0.0.1:8080', ws: true },
      '/ingest': 'http://127.0.0.1:8080',
    },
  },
});

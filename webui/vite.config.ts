import { resolve } from 'node:path'
import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

// The web UI: built into dist/webui, which the daemon serves at its API address.
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: {
    outDir: resolve(import.meta.dirname, '../dist/webui'),
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500
  },
  logLevel: 'warn'
})

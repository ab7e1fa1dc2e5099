import { resolve } from 'node:path'
import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

// The web UI: built into dist/webui, which the daemon serves at its API address.
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: {
    outDir: resolve(import.meta.dirname, '../dist/webui'),
    emptyOutDir: true
    // the default chunk size warning (500 KB): pages load as their own chunks (App.tsx), xterm only with a terminal
  },
  logLevel: 'warn'
})

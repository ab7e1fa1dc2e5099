// Writes the generated reference pages (docs/cli.md, docs/api.md) from the code:
// `./scripts/docs` writes them, `./scripts/docs --check` only says which are stale (exit 1).
import { readFile, writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { GENERATED_PAGES, REGENERATE } from './pages.js'

const root = process.env.FLOE_ROOT ?? process.cwd()
const check = process.argv.includes('--check')
let stale = 0
for (const page of GENERATED_PAGES) {
  const file = resolve(root, page.path)
  const text = page.render()
  const held = await readFile(file, 'utf8').catch(() => null)
  if (held === text) continue
  if (check) {
    stale++
    process.stderr.write(`${page.path} is stale: run ${REGENERATE}\n`)
  } else {
    await writeFile(file, text)
    process.stdout.write(`wrote ${page.path} (${text.length} bytes)\n`)
  }
}
process.exitCode = stale > 0 ? 1 : 0

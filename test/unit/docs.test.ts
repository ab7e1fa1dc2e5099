import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { GENERATED_PAGES, REGENERATE } from '../../scripts/docs-gen/pages.js'

const root = resolve(import.meta.dirname, '../..')

describe('the generated reference pages', () => {
  for (const page of GENERATED_PAGES) {
    it(`${page.path} is what the code says`, async () => {
      const held = await readFile(resolve(root, page.path), 'utf8').catch(() => '')
      // not toBe: a diff of two 30 KB strings says less than the command that fixes it
      if (held !== page.render()) expect.fail(`${page.path} is stale: run ${REGENERATE}`)
    })
  }

  it('the CLI reference lists every option run and rerun share, rerun with no defaults', async () => {
    const cli = (GENERATED_PAGES.find(p => p.path === 'docs/cli.md') as { render: () => string }).render()
    const rerun = cli.slice(cli.indexOf('## `floe rerun`'), cli.indexOf('## `floe status`'))
    for (const flag of ['--gpu-memory <size>', '--network', '--no-network', '--gpu-model <model>', '--data <ref:mount>']) expect(rerun).toContain(`\`${flag}\``)
    expect(rerun).not.toMatch(/\| `busybox` \|/)
  })
})

import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { FLOE_VERSION } from '../../../protocol/version.js'

describe('FLOE_VERSION', () => {
  it("equals package.json's version", () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'))
    expect(FLOE_VERSION).toBe(pkg.version)
  })
})

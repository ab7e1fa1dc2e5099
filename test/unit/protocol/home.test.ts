import { describe, expect, it } from 'vitest'
import { resolveHome } from '../../../protocol/home.js'

describe('resolveHome', () => {
  it('takes --home, else FLOE_HOME, else ~/.floe, always absolute', () => {
    expect(resolveHome('/a/b', { FLOE_HOME: '/c' }, '/home/u')).toBe('/a/b')
    expect(resolveHome(undefined, { FLOE_HOME: '/c' }, '/home/u')).toBe('/c')
    expect(resolveHome(undefined, {}, '/home/u')).toBe('/home/u/.floe')
    expect(resolveHome('rel', {}, '/home/u')).toBe(`${process.cwd()}/rel`)
  })
})

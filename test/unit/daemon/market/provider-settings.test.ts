import { describe, expect, it } from 'vitest'
import { applySetting } from '../../../../daemon/market/provider-settings.js'
import { ProviderSettings } from '../../../../protocol/market/settings.js'

const defaults = ProviderSettings.parse({})

describe('applySetting', () => {
  it('changes one setting at a time, parsing sizes, durations, lists and prices', () => {
    let s = applySetting(defaults, 'cpus', '4')
    s = applySetting(s, 'memory', '16g')
    s = applySetting(s, 'gpus', '1,0,1')
    s = applySetting(s, 'price.gpu.NVIDIA H100 80GB HBM3', '2.5')
    s = applySetting(s, 'max-duration', '12h')
    s = applySetting(s, 'network', 'on')
    s = applySetting(s, 'deny', '12D3KooWA, 12D3KooWB')
    expect(s).toMatchObject({ cpus: 4, memoryBytes: 16 * 1024 ** 3, gpus: [0, 1], maxJobSeconds: 43_200, network: true, deny: ['12D3KooWA', '12D3KooWB'] })
    expect(s.prices.perGpuHour).toEqual({ '*': 1, 'NVIDIA H100 80GB HBM3': 2.5 })
    expect(applySetting(s, 'price.gpu.*', 'off').prices.perGpuHour).toEqual({ 'NVIDIA H100 80GB HBM3': 2.5 })
    expect(applySetting(s, 'cpus', 'all').cpus).toBeNull()
    // the input is left as it was
    expect(defaults.cpus).toBeNull()
  })

  it('refuses bad values with the reason', () => {
    expect(() => applySetting(defaults, 'cpus', '0')).toThrow('"0" is not a valid CPU count: use a whole number, 1 or more')
    expect(() => applySetting(defaults, 'memory', 'lots')).toThrow(/^memory: "lots" is not a size/)
    expect(() => applySetting(defaults, 'gpus', '0,x')).toThrow('"0,x" is not "all", "none" or GPU indexes like 0,1')
    expect(() => applySetting(defaults, 'network', 'maybe')).toThrow('"maybe" is not on or off')
    expect(() => applySetting(defaults, 'price.memory', 'free')).toThrow('"free" is not a price: use a number of credits per hour, 0 or more')
  })
})

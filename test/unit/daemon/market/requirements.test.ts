import { describe, expect, it } from 'vitest'
import {
  ExcludedOffer, RankedOffer, Requirements, formatDuration, formatSize, parseDuration, parseSize
} from '../../../../protocol/market/requirements.js'

const GiB = 1024 ** 3
const MiB = 1024 ** 2

describe('parseSize', () => {
  it('reads binary sizes however the unit is spelled', () => {
    const cases: Array<[string, number]> = [
      ['512m', 512 * MiB],
      ['8g', 8 * GiB],
      ['8GiB', 8 * GiB],
      ['8 GB', 8 * GiB],
      ['1.5G', 1.5 * GiB],
      ['.5k', 512],
      ['1024', 1024],
      ['100b', 100],
      ['2t', 2 * 1024 ** 4],
      ['2Ti', 2 * 1024 ** 4],
      [' 4Mi ', 4 * MiB],
      ['0', 0]
    ]
    for (const [text, bytes] of cases) expect(parseSize(text), text).toBe(bytes)
  })

  it('rounds to whole bytes', () => {
    expect(parseSize('0.3k')).toBe(307)
  })

  it('refuses junk with a message that says what is expected', () => {
    const junk: Array<[string, string]> = [
      ['', '"" is not a size; expected a number and a unit, e.g. 512m, 8g or 1.5GiB'],
      ['lots', '"lots" is not a size; expected a number and a unit, e.g. 512m, 8g or 1.5GiB'],
      ['-1g', '"-1g" is not a size; expected a number and a unit, e.g. 512m, 8g or 1.5GiB'],
      ['1.g', '"1.g" is not a size; expected a number and a unit, e.g. 512m, 8g or 1.5GiB'],
      ['8g8', '"8g8" is not a size; expected a number and a unit, e.g. 512m, 8g or 1.5GiB'],
      ['8x', '"8x" has an unknown unit "x"; use b, k, m, g or t (binary: 1g = 1024m)'],
      ['8gigs', '"8gigs" has an unknown unit "gigs"; use b, k, m, g or t (binary: 1g = 1024m)'],
      ['99999999t', '"99999999t" is too large a size']
    ]
    for (const [text, message] of junk) {
      expect(() => parseSize(text), text).toThrow(message)
      expect(() => parseSize(text), text).toThrow(expect.objectContaining({ name: 'InvalidRequirementError', message }))
    }
  })
})

describe('parseDuration', () => {
  it('reads seconds, minutes, hours, days and their combinations', () => {
    const cases: Array<[string, number]> = [
      ['90s', 90],
      ['30m', 1800],
      ['2h', 7200],
      ['1h30m', 5400],
      ['1h 30m 15s', 5415],
      ['1d', 86_400],
      ['1.5h', 5400],
      ['2H', 7200],
      ['45', 45]
    ]
    for (const [text, seconds] of cases) expect(parseDuration(text), text).toBe(seconds)
  })

  it('refuses junk, units out of order and nothing at all', () => {
    const junk: Array<[string, string]> = [
      ['', '"" is not a duration; expected e.g. 90s, 30m, 2h or 1h30m'],
      ['soon', '"soon" is not a duration; expected e.g. 90s, 30m, 2h or 1h30m'],
      ['30m1h', '"30m1h" is not a duration; expected e.g. 90s, 30m, 2h or 1h30m'],
      ['1h1h', '"1h1h" is not a duration; expected e.g. 90s, 30m, 2h or 1h30m'],
      ['-5s', '"-5s" is not a duration; expected e.g. 90s, 30m, 2h or 1h30m'],
      ['5 min', '"5 min" is not a duration; expected e.g. 90s, 30m, 2h or 1h30m'],
      ['0s', '"0s" is too short; a duration is at least 1s'],
      ['0.2s', '"0.2s" is too short; a duration is at least 1s'],
      ['99999999999999999999d', '"99999999999999999999d" is too long a duration']
    ]
    for (const [text, message] of junk) {
      expect(() => parseDuration(text), text).toThrow(expect.objectContaining({ name: 'InvalidRequirementError', message }))
    }
  })
})

describe('formatSize and formatDuration', () => {
  it('write what people read in messages', () => {
    expect([0, 12, 1536, 512 * MiB, 1.5 * GiB, 40 * GiB].map(formatSize))
      .toEqual(['0 B', '12 B', '1.5 KiB', '512 MiB', '1.5 GiB', '40 GiB'])
    expect([0, 45, 90, 3600, 5400, 90_061].map(formatDuration))
      .toEqual(['0s', '45s', '1m30s', '1h', '1h30m', '1d1h1m1s'])
  })

  it('round-trip through the parsers', () => {
    for (const seconds of [1, 59, 61, 3600, 5415, 86_400 * 3 + 7]) expect(parseDuration(formatDuration(seconds))).toBe(seconds)
  })
})

describe('Requirements', () => {
  it('fills the defaults: one CPU, 1 GiB, no GPU', () => {
    expect(Requirements.parse({})).toEqual({ cpus: 1, memoryBytes: GiB, gpus: 0 })
  })

  it('refuses unknown keys, bad numbers and GPU filters without GPUs', () => {
    expect(Requirements.safeParse({ cpu: 2 }).success).toBe(false)
    expect(Requirements.safeParse({ cpus: 0 }).success).toBe(false)
    expect(Requirements.safeParse({ cpus: 1.5 }).success).toBe(false)
    expect(Requirements.safeParse({ maxPricePerHour: -1 }).success).toBe(false)
    expect(Requirements.safeParse({ maxSeconds: 0 }).success).toBe(false)
    const result = Requirements.safeParse({ gpuModel: 'a100' })
    expect(result.error?.issues.map(issue => [issue.path, issue.message])).toEqual([[['gpuModel'], 'gpuModel needs gpus of at least 1']])
    expect(Requirements.safeParse({ gpus: 1, gpuModel: 'a100', minGpuMemoryBytes: 40 * GiB }).success).toBe(true)
  })
})

describe('RankedOffer and ExcludedOffer', () => {
  it('accept what matching returns and refuse malformed results', () => {
    const ranked = { peerId: 'p', costPerHour: 1.5, score: 0.7, latencyMs: null, reliability: 0.9, gpus: [0, 2] }
    expect(RankedOffer.parse(ranked)).toEqual(ranked)
    expect(RankedOffer.safeParse({ ...ranked, score: 2 }).success).toBe(false)
    expect(RankedOffer.safeParse({ ...ranked, reliability: 1.1 }).success).toBe(false)
    expect(ExcludedOffer.parse({ peerId: 'p', reasons: ['offer expired'] })).toEqual({ peerId: 'p', reasons: ['offer expired'] })
    expect(ExcludedOffer.safeParse({ peerId: 'p', reasons: [] }).success).toBe(false)
  })
})

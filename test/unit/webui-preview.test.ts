import { describe, expect, it } from 'vitest'
import { asText, parseCsv, previewKind } from '../../webui/src/preview.js'

describe('content previews', () => {
  it('parses CSV with quoted separators, newlines and quotes, and caps the rows', () => {
    expect(parseCsv('a,b\r\n1,"x, ""y""\nz"\n2,3\n').rows).toEqual([['a', 'b'], ['1', 'x, "y"\nz'], ['2', '3']])
    expect(parseCsv('a\tb\n1\t2', '\t').rows).toEqual([['a', 'b'], ['1', '2']])
    const capped = parseCsv('1\n2\n3\n4\n', ',', 2)
    expect(capped).toEqual({ rows: [['1'], ['2']], truncated: true })
  })
  it('tells text from binary and picks the kind by name', () => {
    expect(asText(new TextEncoder().encode('héllo'))).toBe('héllo')
    expect(asText(new Uint8Array([0x89, 0x50, 0, 1]))).toBeNull()
    expect(asText(new Uint8Array([0xff, 0xfe, 0x41]))).toBeNull()
    expect(['a.PNG', 'b.csv', 'c.json', 'd.txt'].map(previewKind)).toEqual(['image', 'csv', 'json', 'text'])
  })
})

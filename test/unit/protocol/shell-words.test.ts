import { describe, expect, it } from 'vitest'
import { shellQuote, splitShellWords } from '../../../protocol/shell-words.js'

describe('shell words', () => {
  it('splits as a shell does, quotes kept as meant', () => {
    expect(splitShellWords('python  train.py --lr 0.1')).toEqual(['python', 'train.py', '--lr', '0.1'])
    expect(splitShellWords(`sh -c 'echo a; exit 1'`)).toEqual(['sh', '-c', 'echo a; exit 1'])
    expect(splitShellWords('echo "a \\"b\\" $x" c\\ d \'\'')).toEqual(['echo', 'a "b" $x', 'c d', ''])
    expect(splitShellWords('  ')).toEqual([])
  })
  it('names an unclosed quote', () => {
    expect(() => splitShellWords("echo 'a")).toThrow(/single quote at character 6 is never closed/)
    expect(() => splitShellWords('echo "a')).toThrow(/double quote at character 6 is never closed/)
  })
  it('quotes so that splitting gives the same words back', () => {
    const words = ['sh', '-c', "echo 'it''s'; exit 1", '', 'a b', '--x=1', '$HOME']
    expect(shellQuote(['sh', '-c', 'echo a; exit 1'])).toBe(`sh -c 'echo a; exit 1'`)
    expect(splitShellWords(shellQuote(words))).toEqual(words)
  })
})

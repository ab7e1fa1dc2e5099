/**
 * Commands as shell words, the same in the CLI and the web UI (no Node-only imports): a
 * command line typed into a form split the way a POSIX shell splits it (quotes and
 * backslashes kept as the user meant them, nothing expanded), and a command array shown so
 * that pasting it into a shell gives back the same words.
 */

export class ShellWordsError extends Error {
  override name = 'ShellWordsError'
}

/** `sh -c 'echo a; exit 1'` → ['sh', '-c', 'echo a; exit 1']; an unclosed quote is an error naming it. */
export function splitShellWords (text: string): string[] {
  const words: string[] = []
  let word = ''
  let inWord = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string
    if (c === "'") {
      const end = text.indexOf("'", i + 1)
      if (end < 0) throw new ShellWordsError(`the single quote at character ${i + 1} is never closed: close it, or escape it as \\'`)
      word += text.slice(i + 1, end)
      inWord = true
      i = end
    } else if (c === '"') {
      let j = i + 1
      for (; j < text.length && text[j] !== '"'; j++) {
        // inside double quotes a backslash escapes only $ ` " \ and a newline
        if (text[j] === '\\' && j + 1 < text.length && '$`"\\\n'.includes(text[j + 1] as string)) j++
        word += text[j] as string
      }
      if (j >= text.length) throw new ShellWordsError(`the double quote at character ${i + 1} is never closed: close it, or escape it as \\"`)
      inWord = true
      i = j
    } else if (c === '\\') {
      if (i + 1 < text.length) word += text[++i] as string
      inWord = true
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word)
      word = ''
      inWord = false
    } else {
      word += c
      inWord = true
    }
  }
  if (inWord) words.push(word)
  return words
}

/** One word as a shell reads it back: bare when safe, else in single quotes. */
export function shellQuoteWord (word: string): string {
  if (word !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word
  return `'${word.replaceAll("'", "'\\''")}'`
}

/** A command array as one line a shell splits back into the same words. */
export function shellQuote (words: readonly string[]): string {
  return words.map(shellQuoteWord).join(' ')
}

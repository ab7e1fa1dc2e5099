import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { httpStatusForError, STATUS_BY_ERROR_NAME } from '../../../protocol/api/errors.js'

/**
 * The HTTP API's status table is complete by construction: every error class declared in
 * daemon/ or protocol/ (read from the sources, so a new file or class is seen without this
 * test changing) names itself, and that name has a status. An error missing from the table
 * would reach users as a 500 with no one having decided it.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))

interface ErrorClass { file: string, className: string, abstract: boolean, name: string | undefined }

function sources (dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter(entry => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts'))
    .map(entry => join(entry.parentPath, entry.name))
}

/** Each `class X extends …Error` and the `name` its body sets, read from the source text. */
function errorClasses (): ErrorClass[] {
  const found: ErrorClass[] = []
  for (const file of [...sources('daemon'), ...sources('protocol')]) {
    const text = readFileSync(file, 'utf8')
    const declaration = /^(?:export )?(abstract )?class (\w+) extends (\w+)/gm
    const matches = [...text.matchAll(declaration)]
    matches.forEach((match, i) => {
      const [, abstract, className, base] = match
      if (!/Error$/.test(base!) && !/Error$/.test(className!)) return
      const body = text.slice(match.index, matches[i + 1]?.index ?? text.length)
      const name = /override name = '(\w+)'/.exec(body)?.[1]
      found.push({ file: relative(ROOT, file), className: className!, abstract: abstract != null, name })
    })
  }
  return found
}

describe('the API error status table', () => {
  const classes = errorClasses()
  const concrete = classes.filter(c => !c.abstract)

  it('finds the error classes (the scan works)', () => {
    expect(concrete.length).toBeGreaterThan(60)
    expect(concrete).toContainEqual(expect.objectContaining({ className: 'DatasetNotFoundError', name: 'DatasetNotFoundError' }))
  })

  it('every error class names itself', () => {
    const misnamed = concrete.filter(c => c.name !== c.className).map(c => `${c.file}: ${c.className} has name ${c.name ?? '(none)'}`)
    expect(misnamed).toEqual([])
  })

  it('every error name has a status', () => {
    const missing = concrete.filter(c => c.name != null && !Object.hasOwn(STATUS_BY_ERROR_NAME, c.name)).map(c => `${c.file}: ${c.name}`)
    expect(missing).toEqual([])
  })

  it('every name in the table is an error class', () => {
    const names = new Set(concrete.map(c => c.name))
    expect(Object.keys(STATUS_BY_ERROR_NAME).filter(name => !names.has(name))).toEqual([])
  })

  it('answers 500 for a name it does not know, own properties only', () => {
    expect(httpStatusForError('DatasetNotFoundError')).toBe(404)
    expect(httpStatusForError('SomethingElseError')).toBe(500)
    expect(httpStatusForError('toString')).toBe(500)
    expect(httpStatusForError('__proto__')).toBe(500)
  })
})

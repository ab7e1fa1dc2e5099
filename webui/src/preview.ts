/** What the content browser previews, and how: decided from the file name and its bytes. */

/** The most bytes fetched to preview a text, CSV or JSON file. */
export const MAX_TEXT_PREVIEW = 1024 * 1024
/** The most bytes fetched to preview an image. */
export const MAX_IMAGE_PREVIEW = 8 * 1024 * 1024
/** The most CSV rows shown. */
export const MAX_CSV_ROWS = 500

const IMAGE_TYPES: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp' }

export type PreviewKind = 'image' | 'csv' | 'json' | 'text'

export function previewKind (name: string): PreviewKind {
  const ext = name.toLowerCase().split('.').at(-1) ?? ''
  if (ext in IMAGE_TYPES) return 'image'
  if (ext === 'csv' || ext === 'tsv') return 'csv'
  if (ext === 'json' || ext === 'ipynb') return 'json'
  return 'text'
}

export const imageType = (name: string): string => IMAGE_TYPES[name.toLowerCase().split('.').at(-1) ?? ''] ?? 'application/octet-stream'

export const previewCap = (kind: PreviewKind): number => kind === 'image' ? MAX_IMAGE_PREVIEW : MAX_TEXT_PREVIEW

/** The bytes as UTF-8 text, or null when they are not text (a NUL, or invalid UTF-8). */
export function asText (bytes: Uint8Array): string | null {
  if (bytes.includes(0)) return null
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return null
  }
}

/**
 * CSV (RFC 4180: quoted fields may hold the separator, newlines and doubled quotes) as rows
 * of fields, at most `maxRows`; a .tsv splits on tabs.
 */
export function parseCsv (text: string, separator = ',', maxRows = MAX_CSV_ROWS): { rows: string[][], truncated: boolean } {
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let i = 0
  const endRow = (): boolean => {
    row.push(field)
    field = ''
    rows.push(row)
    row = []
    return rows.length >= maxRows
  }
  while (i < text.length) {
    const c = text[i] as string
    if (c === '"' && field === '') {
      const start = i + 1
      let j = start
      let value = ''
      for (;;) {
        const q = text.indexOf('"', j)
        if (q < 0) { value += text.slice(j); j = text.length; break }
        value += text.slice(j, q)
        if (text[q + 1] === '"') { value += '"'; j = q + 2 } else { j = q + 1; break }
      }
      field = value
      i = j
      continue
    }
    if (c === separator) { row.push(field); field = ''; i++; continue }
    if (c === '\r' && text[i + 1] === '\n') i++
    if (c === '\n' || c === '\r') {
      i++
      if (endRow()) return { rows, truncated: i < text.length }
      continue
    }
    field += c
    i++
  }
  if (field !== '' || row.length > 0) endRow()
  return { rows, truncated: false }
}

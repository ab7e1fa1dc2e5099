import { z } from 'zod'
import { formatSize } from '../market/requirements.js'

/**
 * What a job's code snapshot holds and leaves out, as the daemon's import found it: sent as
 * a progress event of `jobRun` before the files are read, so `floe run` (and the web UI)
 * can say what is being uploaded, and warn when it is large.
 */
export const CodeSnapshot = z.object({
  files: z.number().int().nonnegative(),
  bytes: z.number().nonnegative(),
  ignoredFiles: z.number().int().nonnegative(),
  ignoredBytes: z.number().nonnegative(),
  /** the rule files that left something out (`.floeignore`, `floe.yml`, `defaults`…), most bytes first */
  ignoredBy: z.array(z.string().max(64)).max(16),
  /** the ignored folders held more than was counted: the ignored numbers are a floor */
  ignoredCapped: z.boolean(),
  /** the run config file that was read (its `ignore:` applied), if any */
  config: z.string().max(64).nullable(),
  /** past either, the snapshot is large enough to warn about */
  warnUpload: z.object({ bytes: z.number().nonnegative(), files: z.number().int().nonnegative() })
})
export type CodeSnapshot = z.infer<typeof CodeSnapshot>

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`

/** `12 files, 3.4 MiB (ignored 2 files, 80 MiB: .floeignore, .gitignore)` */
export function snapshotLine (s: CodeSnapshot): string {
  const ignored = s.ignoredFiles === 0
    ? ''
    : ` (ignored ${s.ignoredCapped ? 'over ' : ''}${plural(s.ignoredFiles, 'file')}, ${formatSize(s.ignoredBytes)}: ${s.ignoredBy.join(', ')})`
  return `${plural(s.files, 'file')}, ${formatSize(s.bytes)}${ignored}`
}

/** A warning when the snapshot passes its thresholds, saying how to leave files out; else null. */
export function snapshotWarning (s: CodeSnapshot): string | null {
  const big = s.bytes > s.warnUpload.bytes
  const many = s.files > s.warnUpload.files
  if (!big && !many) return null
  const what = [big ? `${formatSize(s.bytes)} (over ${formatSize(s.warnUpload.bytes)})` : null, many ? `${s.files} files (over ${s.warnUpload.files})` : null].filter(Boolean).join(' and ')
  return `the code snapshot is ${what}: list data, checkpoints and outputs in .floeignore (or floe.yml's ignore:) and mount data with --data instead; warn_upload_size / warn_upload_files in floe.yml change this threshold`
}

import type { Blockstore } from 'interface-blockstore'
import { CID } from 'multiformats/cid'
import { LogLine } from '../../protocol/jobs/job.js'
import { readContentFile } from '../content/browse.js'
import type { RequireDag } from '../content/require-dag.js'
import type { JobRow } from '../projects/job-rows.js'
import { JobStateError } from './errors.js'

/** A job's log as its provider stored it (NDJSON lines), fetched by its CID. */
export async function readStoredLog (components: { blockstore: Pick<Blockstore, 'get' | 'has'>, requireDag: RequireDag }, row: JobRow, signal?: AbortSignal): Promise<LogLine[]> {
  if (row.logsCid == null) throw new JobStateError(`job ${row.ref} is ${row.author}'s and has no stored log yet (it is ${row.state}); its log is kept once it ends`)
  const root = CID.parse(row.logsCid)
  await components.requireDag(root, { signal })
  const file = await readContentFile(components.blockstore, root, '', { signal })
  const decoder = new TextDecoder()
  let text = ''
  for await (const chunk of file.content) text += decoder.decode(chunk, { stream: true })
  text += decoder.decode()
  return text.split('\n').filter(line => line !== '').map(line => LogLine.parse(JSON.parse(line)))
}

// TODO(merge a15-jobsvc): daemon/provider/provider-jobs.ts still imports FetchDagOutcome from here and checks `via === 'bitswap'`; switch it to `RequireDag`/`DagFetched` from './require-dag.js' (requireDag throws ContentUnavailableError instead) and delete this file.
export type { DagFetched as FetchDagOutcome } from './require-dag.js'

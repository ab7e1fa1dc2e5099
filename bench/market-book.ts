// N provider daemons and one client on loopback: how long until the client's offer book
// holds every provider's offer, what the offers topic costs at rest, and memory per daemon.
// Providers dial the client at start (--bootstrap); the client starts first, empty.
// Baseline: the same client with N daemons that are not providers, measured in the same run
// for traffic at rest (identify, ping, gossipsub heartbeats without offers).
// Usage: node dist/bench/market-book.js [--providers 10,25,50] [--rest-seconds 60] [--json]
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { floeJson, startBenchDaemon, type BenchDaemon } from './helpers.js'

const { values } = parseArgs({ options: { providers: { type: 'string', default: '10,25,50' }, 'rest-seconds': { type: 'string', default: '60' }, json: { type: 'boolean', default: false } } })
const sizes = values.providers.split(',').map(Number)
const restSeconds = Number(values['rest-seconds'])

function rssMiB (pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024
}

/** Bytes received plus sent on the loopback interface (/proc/net/dev): all our daemons' traffic, and only it, on this machine. */
function tcpBytes (): number {
  const line = readFileSync('/proc/net/dev', 'utf8').split('\n').find(l => l.trim().startsWith('lo:'))
  const fields = line?.trim().split(/\s+/) ?? []
  return Number(fields[1]) + Number(fields[9])
}

async function run (n: number, providers: boolean): Promise<{ bookMs: number | null, bookAfterLastMs: number | null, restBytesPerNodePerMinute: number, rssMiB: { client: number, providerMean: number } }> {
  const client = await startBenchDaemon()
  const clientAddr = (await floeJson(['id', '--home', client.home])).addresses[0]
  // libp2p accepts at most 5 inbound connections a second from one host (its
  // inboundConnectionThreshold), and every provider here is 127.0.0.1: start 4 a second.
  const started = performance.now()
  const nodes: BenchDaemon[] = []
  for (let i = 0; i < n; i += 4) {
    const batch = Math.min(4, n - i)
    const [batchNodes] = await Promise.all([
      Promise.all(Array.from({ length: batch }, async () => await startBenchDaemon(undefined, ['--bootstrap', clientAddr, ...(providers ? ['--provider'] : [])]))),
      sleep(1000)
    ])
    nodes.push(...batchNodes)
  }
  const allUp = performance.now()
  let bookMs: number | null = null
  let bookAfterLastMs: number | null = null
  if (providers) {
    while (performance.now() - started < 120_000) {
      const { providers: listed } = await floeJson(['providers', '--home', client.home])
      if (listed.length === n) {
        bookMs = performance.now() - started
        bookAfterLastMs = performance.now() - allUp
        break
      }
      await sleep(200)
    }
  }
  const before = tcpBytes()
  await sleep(restSeconds * 1000)
  const rest = tcpBytes() - before
  const result = {
    bookMs,
    bookAfterLastMs,
    restBytesPerNodePerMinute: rest / 2 / (n + 1) / (restSeconds / 60),
    rssMiB: { client: rssMiB(client.child.pid!), providerMean: nodes.reduce((s, d) => s + rssMiB(d.child.pid!), 0) / n }
  }
  await Promise.all([client, ...nodes].map(async d => { await d.stop() }))
  return result
}

const results = []
for (const n of sizes) {
  const withOffers = await run(n, true)
  const baseline = await run(n, false)
  results.push({ n, ...withOffers, baselineRestBytesPerNodePerMinute: baseline.restBytesPerNodePerMinute })
}
if (values.json) console.log(JSON.stringify(results, null, 2))
else {
  console.log(`offer book across N providers and one client on loopback (${restSeconds} s at rest)`)
  for (const r of results) {
    console.log(`  N=${String(r.n).padEnd(3)} book complete ${r.bookMs == null || r.bookAfterLastMs == null ? 'NOT within 120 s' : `${(r.bookMs / 1000).toFixed(1)} s after the first provider started, ${(r.bookAfterLastMs / 1000).toFixed(1)} s after the last was up`}; at rest ${(r.restBytesPerNodePerMinute / 1024).toFixed(1)} KiB/node/min (no offers: ${(r.baselineRestBytesPerNodePerMinute / 1024).toFixed(1)}); RSS client ${r.rssMiB.client.toFixed(0)} MiB, provider ${r.rssMiB.providerMean.toFixed(0)} MiB`)
  }
}

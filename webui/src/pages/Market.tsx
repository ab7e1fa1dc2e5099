import { useState, type ReactNode } from 'react'
import { Link } from 'react-router'
import { api, useLoad } from '../api.js'
import { Empty, ErrorBox, Loading, Mono } from '../components/common.js'
import { DataTable } from '../components/DataTable.js'
import { ProviderPrices } from '../components/ProviderPrices.js'
import { ago, money, shortPeer } from '../../../protocol/format.js'
import { formatSize } from '../../../protocol/market/requirements.js'

const percent = (r: number | null | undefined): string => r == null ? 'new' : `${Math.round(r * 100)}%`

/** Live offers: refreshed every few seconds, sortable, filtered by GPU model and environment; this node's own marked and its prices editable. */
export function Market (): ReactNode {
  const [filter, setFilter] = useState({ gpu: '', env: '', gpusOnly: false })
  const me = useLoad(async signal => (await api.call('id', {}, { signal })).peerId, [])
  const offers = useLoad(async signal => await api.call('providers', {}, { signal }), [], 3000)
  const reliability = useLoad(async signal => new Map((await api.call('marketReliability', {}, { signal })).providers.map(p => [p.peer, p.reliability])), [], 10_000)
  const provider = useLoad(async signal => await api.call('providerShow', {}, { signal }), [])
  const rows = (offers.data?.providers ?? []).filter(row => {
    const o = row.offer
    if (filter.gpusOnly && o.gpus.length === 0) return false
    if (filter.gpu !== '' && !o.gpus.some(g => g.model.toLowerCase().includes(filter.gpu.toLowerCase()))) return false
    if (filter.env !== '' && !o.environments.some(e => e.includes(filter.env))) return false
    return true
  })
  const mine = (peer: string): boolean => peer === me.data
  return (
    <main id='main'>
      <h1>Market</h1>
      <form className='inline' onSubmit={e => { e.preventDefault() }} aria-label='filter offers'>
        <label htmlFor='filter-gpu'>GPU model</label>
        <input id='filter-gpu' type='search' value={filter.gpu} onChange={e => { setFilter({ ...filter, gpu: e.target.value }) }} placeholder='a100' />
        <label htmlFor='filter-env'>Environment</label>
        <input id='filter-env' type='search' value={filter.env} onChange={e => { setFilter({ ...filter, env: e.target.value }) }} placeholder='busybox' />
        <label><input type='checkbox' checked={filter.gpusOnly} onChange={e => { setFilter({ ...filter, gpusOnly: e.target.checked }) }} /> with GPUs only</label>
      </form>
      <ErrorBox error={offers.error} />
      {offers.data == null
        ? offers.error == null && <Loading />
        : rows.length === 0
          ? <Empty>{offers.data.providers.length === 0 ? 'No offers yet. Share this machine on the Node page, or connect to a provider (floe connect ADDR).' : 'No offer matches the filter.'}</Empty>
          : <DataTable
              caption='offers'
              rows={rows}
              rowKey={r => r.offer.peerId}
              initialSort={{ key: 'cpuPrice' }}
              columns={[
                { key: 'peer', label: 'Provider', render: r => <><Mono title={r.offer.peerId}>{shortPeer(r.offer.peerId)}</Mono>{mine(r.offer.peerId) && <> <span className='badge badge-mine' data-testid='own-offer'>this node</span></>}</>, sort: r => r.offer.peerId },
                { key: 'gpus', label: 'GPUs (free)', render: r => r.offer.gpus.length === 0 ? '–' : r.offer.gpus.map(g => `${g.model} ${formatSize(g.memoryBytes)}${g.free ? '' : ' (busy)'}`).join(', '), sort: r => r.offer.gpus.filter(g => g.free).length },
                { key: 'cpu', label: 'Free CPU', render: r => `${r.offer.cpu.free} of ${r.offer.cpu.shared}`, sort: r => r.offer.cpu.free },
                { key: 'memory', label: 'Free memory', render: r => formatSize(r.offer.memory.freeBytes), sort: r => r.offer.memory.freeBytes },
                { key: 'envs', label: 'Environments', render: r => r.offer.environments.join(', ') },
                { key: 'cpuPrice', label: 'CPU /h', render: r => money(r.offer.prices.perCpuHour), sort: r => r.offer.prices.perCpuHour },
                { key: 'memPrice', label: 'GiB /h', render: r => money(r.offer.prices.perGiBHour), sort: r => r.offer.prices.perGiBHour },
                { key: 'gpuPrice', label: 'GPU /h', render: r => Object.entries(r.offer.prices.perGpuHour).map(([m, p]) => `${m}: ${money(p)}`).join(', ') || '–' },
                { key: 'reliability', label: 'Reliability', render: r => <span title='of the jobs it took from this node, the share carried to an accepted end'>{percent(reliability.data?.get(r.offer.peerId))}</span>, sort: r => reliability.data?.get(r.offer.peerId) ?? 0.5 },
                { key: 'latency', label: 'Latency', render: r => r.latencyMs == null ? '–' : `${r.latencyMs} ms`, sort: r => r.latencyMs ?? Number.MAX_SAFE_INTEGER },
                { key: 'seen', label: 'Seen', render: r => ago(r.lastSeen), sort: r => r.lastSeen },
                { key: 'launch', label: 'Launch', render: r => <Link className='button' to={`/launch?${new URLSearchParams({ provider: r.offer.peerId }).toString()}`} title={`launch a job on ${r.offer.peerId}`}>Launch here</Link> }
              ]}
            />}
      <h2>This node's prices and limits</h2>
      <ErrorBox error={provider.error} />
      {provider.data == null
        ? provider.error == null && <Loading />
        : (
          <>
            <p className='muted'>Sharing is {provider.data.settings.enabled ? 'on' : 'off (turn it on from the Node page)'}. The same settings as <code>floe provider set KEY VALUE</code>; the offer is published again on save.</p>
            <ProviderPrices status={provider.data} onSaved={() => { provider.reload(); offers.reload() }} />
          </>
          )}
    </main>
  )
}

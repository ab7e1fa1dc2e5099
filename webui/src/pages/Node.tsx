import type { ReactNode } from 'react'
import { api, useAction, useLoad } from '../api.js'
import { Empty, ErrorBox, Loading, Mono, StatusBadge, useTitle } from '../components/common.js'
import { DataTable } from '../components/DataTable.js'
import { ago, displayCommand, money, shortPeer } from '../../../protocol/format.js'
import { formatSize } from '../../../protocol/market/requirements.js'

export function Node (): ReactNode {
  useTitle('Node')
  const id = useLoad(async signal => await api.call('id', {}, { signal }), [])
  const peers = useLoad(async signal => (await api.call('peers', {}, { signal })).peers, [], 3000)
  const provider = useLoad(async signal => await api.call('providerShow', {}, { signal }), [], 5000)
  const served = useLoad(async signal => await api.call('providerJobs', {}, { signal }), [], 3000)
  const { error, run } = useAction()
  const toggle = async (enabled: boolean): Promise<void> => {
    await run(async () => {
      await api.call('providerEnable', { enabled })
      provider.reload()
    })
  }
  const settings = provider.data?.settings
  return (
    <main id='main'>
      <h1>Node</h1>
      <ErrorBox error={id.error} />
      {id.data == null ? <Loading /> : (
        <dl className='details'>
          <dt>Peer id</dt><dd><Mono>{id.data.peerId}</Mono></dd>
          <dt>Addresses</dt><dd><ul className='plain'>{id.data.addresses.filter(a => !a.includes('/p2p-circuit')).map(a => <li key={a}><Mono>{a}</Mono></li>)}</ul></dd>
          <dt>Reachable</dt>
          <dd data-testid='reachability'>
            <strong>{id.data.reachability.status}</strong>{' — '}
            {id.data.reachability.status === 'public'
              ? `peers reached it at ${id.data.reachability.publicAddrs.join(', ')}`
              : id.data.reachability.status === 'private'
                ? `behind a NAT or firewall: ${id.data.reachability.checkedBy.length} peer(s) could not reach it; peers reach it through a relay`
                : 'no public peer has checked yet'}
          </dd>
          <dt>Observed at</dt><dd>{id.data.reachability.observedAddrs.length === 0 ? '–' : <ul className='plain'>{id.data.reachability.observedAddrs.map(a => <li key={a}><Mono>{a}</Mono></li>)}</ul>}</dd>
          <dt>Relayed addresses</dt><dd>{id.data.relayedAddresses.length === 0 ? 'none (no relay reservation)' : <ul className='plain'>{id.data.relayedAddresses.map(a => <li key={a}><Mono>{a}</Mono></li>)}</ul>}</dd>
          {id.data.relay.enabled && <><dt>Relay</dt><dd>serving {id.data.relay.reservations} reservation(s){id.data.relay.unlimited ? ', unlimited' : ''}</dd></>}
          <dt>Version</dt><dd>{id.data.agentVersion}</dd>
          <dt>Home</dt><dd><code>{id.data.home}</code></dd>
          <dt>Up since</dt><dd>{ago(id.data.startedAt)}</dd>
        </dl>
      )}

      <h2>Connected peers</h2>
      {peers.data == null ? <Loading /> : peers.data.length === 0
        ? <Empty>No peers connected. Connect one with <code>floe connect MULTIADDR</code>.</Empty>
        : <ul className='plain'>{peers.data.map(p => <li key={p.peerId}><Mono title={p.peerId}>{shortPeer(p.peerId)}</Mono> {p.via} · {p.direction} · {p.rttMs == null ? 'rtt –' : `${p.rttMs} ms`} · since {ago(p.openedAt)}</li>)}</ul>}

      <h2>Provider</h2>
      <ErrorBox error={error ?? provider.error} />
      {settings == null ? <Loading /> : (
        <>
          <p>
            Sharing is <strong>{settings.enabled ? 'on' : 'off'}</strong>{' '}
            <button type='button' onClick={() => { void toggle(!settings.enabled) }}>{settings.enabled ? 'Stop sharing' : 'Share this machine'}</button>
          </p>
          <dl className='details'>
            <dt>CPUs</dt><dd>{settings.cpus ?? 'all'} of {provider.data?.resources.cpu.cores}</dd>
            <dt>Memory</dt><dd>{settings.memoryBytes == null ? 'auto' : formatSize(settings.memoryBytes)}</dd>
            <dt>GPUs</dt><dd>{provider.data?.resources.gpus.length === 0 ? 'none detected' : provider.data?.resources.gpus.map(g => g.model).join(', ')}</dd>
            <dt>Prices</dt><dd>{money(settings.prices.perCpuHour)} per CPU hour · {money(settings.prices.perGiBHour)} per GiB hour</dd>
            <dt>Docker</dt><dd>{provider.data?.resources.docker.available === true ? `${provider.data.resources.docker.version ?? ''} · ${provider.data.resources.docker.environments.map(e => e.name).join(', ')}` : provider.data?.resources.docker.error}</dd>
          </dl>
        </>
      )}

      <h2>Jobs served</h2>
      {served.data == null ? <Loading /> : served.data.jobs.length === 0
        ? <Empty>No jobs served yet. Share this machine to run other peers' jobs.</Empty>
        : (
          <>
            <p>Earned: <strong>{money(served.data.earned)}</strong> credits</p>
            <DataTable
              caption='jobs served'
              rows={served.data.jobs}
              rowKey={j => j.jobId}
              initialSort={{ key: 'accepted', desc: true }}
              columns={[
                { key: 'client', label: 'Client', render: j => <Mono title={j.client}>{shortPeer(j.client)}</Mono> },
                { key: 'state', label: 'State', render: j => <StatusBadge state={j.state} />, sort: j => j.state },
                { key: 'command', label: 'Command', render: j => <code>{displayCommand(j.command)}</code> },
                { key: 'accepted', label: 'Accepted', render: j => ago(j.acceptedAt), sort: j => j.acceptedAt },
                { key: 'cost', label: 'Earned', render: j => j.cost == null ? '–' : money(j.cost), sort: j => j.cost ?? 0 }
              ]}
            />
          </>
          )}
    </main>
  )
}

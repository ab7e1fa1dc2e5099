import { execFileSync } from 'node:child_process'

/**
 * A small internet on one machine, for tests of NAT traversal (circuit relay, hole punching):
 *
 *   <prefix>-pub      the "public internet": a bridge br0 at 6.0.0.1/24, which is also the
 *                     public (relay) host itself
 *   <prefix>-r<home>  one home router per home: WAN 6.0.0.(11+i)/24 on the bridge, LAN
 *                     10.0.(1+i).1/24, NAT + a stateful firewall on the WAN side
 *   <prefix>-<home>   the host behind it: 10.0.(1+i).2/24, default route via its router
 *   <prefix>-<name>   further public hosts (addPublicHost): next free 6.0.0.x on the bridge
 *
 * Why 6.0.0.0/24: libp2p treats 10/8, 192.168/16, 100.64/10, 198.51.100/24, 203.0.113/24 and
 * the like as private and never uses them as "public" addresses, so the public side needs a
 * routable-looking block. These addresses exist only inside the lab's namespaces, which have
 * no link to the host's network (no interface or route is ever added in the root namespace,
 * and the host's iptables are never touched), so nothing is ever sent to the real 6.0.0.0/24.
 *
 * Needs root, iproute2 and iptables (either backend) with conntrack, as CI has.
 */
export type NatKind = 'eim' | 'symmetric'

export interface NatHome { name: string, ns: string, routerNs: string, hostIp: string, routerWanIp: string, nat: NatKind }

export interface NatLab {
  prefix: string
  /** the "public internet" namespace: a bridge with the relay host on it */
  publicNs: string
  /** the public host's address, 6.0.0.1 (no /24) */
  publicIp: string
  homes: Record<string, NatHome>
  /** add another host on the public side (own namespace `<prefix>-<name>`, next free public IP) */
  addPublicHost(name: string): { ns: string, ip: string }
  /** bytes the public host's interface (br0) has sent+received so far */
  publicHostBytes(): number
  /** run a command inside a namespace, returns stdout */
  exec(ns: string, cmd: string, args: string[]): string
  /**
   * cut / restore a home's uplink (the router's WAN interface down/up). While cut, a new
   * connection from the home fails at once (the router answers "network unreachable") and
   * the public side's packets to the home vanish. Cutting it also makes the router forget
   * the home's NAT mappings: Linux's MASQUERADE drops every mapping made through an
   * interface when that interface goes down.
   */
  setUplink(home: string, up: boolean): void
  /**
   * Forget the home router's NAT mappings (as if it rebooted). The `conntrack` tool is not
   * installed here and CI cannot be assumed to have it, so this flaps the WAN interface instead: MASQUERADE's device
   * notifier removes the mappings made through it. The removal runs in a kernel work queue,
   * so it completes a moment after this returns.
   */
  flushNat(home: string): void
  /** deletes every namespace made; idempotent; never throws */
  remove(): void
}

// Interface names (≤ 15 characters) are per namespace, so they are short and fixed:
// in a router `wan` and `lan`; in a host `eth0`; in the public namespace `br0`, one port `r<i>`
// per router and `h<j>` per extra public host.
const WAN = 'wan'
const LAN = 'lan'
const BRIDGE = 'br0'
const PUBLIC_NET = '6.0.0'
const PUBLIC_IP = `${PUBLIC_NET}.1`
const MAX_HOMES = 200 // 11+i stays in 6.0.0.0/24 and 1+i in 10.0.x.0

/** `ip ARGS…`, with stderr kept so a failure says why. */
function ip (...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

/** CMD ARGS… inside the namespace NS (for tools without `-n`: iptables, sysctl, node). */
function inNs (ns: string, cmd: string, args: string[]): string {
  return ip('netns', 'exec', ns, cmd, ...args)
}

let available: boolean | undefined

/**
 * Whether this machine can build a lab: root, `ip netns`, veth pairs and iptables NAT with
 * conntrack and --random-fully. Tried once in a throwaway namespace (never in the root one)
 * and remembered.
 */
export function natLabAvailable (): boolean {
  if (available !== undefined) return available
  available = false
  if (process.getuid?.() !== 0) return available
  const probe = `flprobe${process.pid}`
  try {
    ip('netns', 'add', probe)
    ip('-n', probe, 'link', 'add', 'name', 'a', 'type', 'veth', 'peer', 'name', 'b')
    inNs(probe, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1'])
    inNs(probe, 'iptables', ['-t', 'nat', '-A', 'POSTROUTING', '-o', 'a', '-j', 'MASQUERADE', '--random-fully'])
    inNs(probe, 'iptables', ['-A', 'FORWARD', '-i', 'a', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'])
    available = true
  } catch {
    // any missing piece (not root in a user namespace, no iptables, no nat module) means no lab
  } finally {
    try { ip('netns', 'del', probe) } catch {}
  }
  return available
}

let labCount = 0

/** Namespace names the `ip netns` list holds now. */
function namespaces (): string[] {
  try {
    return ip('netns', 'list').split('\n').map(line => line.split(' ')[0] ?? '').filter(name => name !== '')
  } catch {
    return []
  }
}

export function createNatLab (options: { prefix?: string, homes: Array<{ name: string, nat: NatKind }> }): NatLab {
  // pid + a per-process count: unique across the test files running at once (each in its own
  // process) and across labs within one file.
  const prefix = options.prefix ?? `fl${process.pid % 100000}n${++labCount}`
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(prefix)) throw new Error(`bad nat lab prefix ${prefix}`)
  if (options.homes.length > MAX_HOMES) throw new Error(`at most ${MAX_HOMES} homes`)

  const made: string[] = [] // namespaces, in creation order
  const taken = new Set<string>() // namespace names this lab uses or will use
  const usedIps = new Set<string>([PUBLIC_IP])
  let publicHosts = 0

  const claim = (ns: string): string => {
    if (taken.has(ns)) throw new Error(`nat lab: two namespaces would be named ${ns}`)
    taken.add(ns)
    return ns
  }

  // A namespace with this exact name can only be left over from a crashed earlier run that
  // happened to have the same pid (a live lab with our prefix would be in this process), so it
  // is removed rather than failing the run.
  const stale = new Set(namespaces().filter(name => name.startsWith(`${prefix}-`)))

  const addNs = (ns: string): void => {
    if (stale.has(ns)) { try { ip('netns', 'del', ns) } catch {} }
    ip('netns', 'add', ns)
    made.push(ns)
    ip('-n', ns, 'link', 'set', 'lo', 'up')
    // No IPv6 on the lab's links (lo keeps ::1, as it exists before this is set): the kernel's
    // own IPv6 chatter (router solicitations, MLD reports) would otherwise reach br0 and count
    // in publicHostBytes, and the lab is IPv4 only anyway.
    inNs(ns, 'sysctl', ['-qw', 'net.ipv6.conf.default.disable_ipv6=1'])
  }

  /** A veth from `ns` (named `inner`) into the bridge (port `port`), with a public address. */
  const plugIntoBridge = (ns: string, inner: string, port: string, address: string): void => {
    ip('-n', ns, 'link', 'add', 'name', inner, 'type', 'veth', 'peer', 'name', port, 'netns', publicNs)
    ip('-n', publicNs, 'link', 'set', port, 'master', BRIDGE, 'up')
    ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', inner)
    ip('-n', ns, 'link', 'set', inner, 'up')
  }

  const publicNs = claim(`${prefix}-pub`)
  const homes: Record<string, NatHome> = {}

  const remove = (): void => {
    process.removeListener('exit', remove)
    // Hosts first, the bridge last; a veth vanishes with either of its namespaces.
    for (const ns of made.splice(0).reverse()) {
      try { ip('netns', 'del', ns) } catch {}
    }
  }
  // A test process that dies without its afterAll still leaves no namespace behind.
  process.on('exit', remove)

  const homeOf = (name: string): NatHome => {
    const home = homes[name]
    if (home === undefined) throw new Error(`nat lab: no home ${name}`)
    return home
  }

  const lab: NatLab = {
    prefix,
    publicNs,
    publicIp: PUBLIC_IP,
    homes,
    addPublicHost (name: string) {
      const ns = claim(`${prefix}-${name}`)
      let last = 2
      while (usedIps.has(`${PUBLIC_NET}.${last}`)) last++
      if (last > 254) throw new Error('nat lab: no public address left')
      const address = `${PUBLIC_NET}.${last}`
      usedIps.add(address)
      addNs(ns)
      plugIntoBridge(ns, 'eth0', `h${publicHosts++}`, address)
      return { ns, ip: address }
    },
    publicHostBytes () {
      // br0 counts only what the public host itself sends and receives: frames the bridge
      // forwards between two other hosts (say two homes after a hole punch) bypass it.
      const out = inNs(publicNs, 'cat', [`/sys/class/net/${BRIDGE}/statistics/rx_bytes`, `/sys/class/net/${BRIDGE}/statistics/tx_bytes`])
      return out.split('\n').filter(line => line !== '').reduce((sum, line) => sum + Number(line), 0)
    },
    exec: inNs,
    setUplink (home: string, up: boolean) {
      // The router keeps no default route (6.0.0.0/24 is on-link), so nothing is lost on the
      // way down that would have to be put back on the way up.
      ip('-n', homeOf(home).routerNs, 'link', 'set', WAN, up ? 'up' : 'down')
    },
    flushNat (home: string) {
      const router = homeOf(home).routerNs
      ip('-n', router, 'link', 'set', WAN, 'down')
      ip('-n', router, 'link', 'set', WAN, 'up')
    },
    remove
  }

  try {
    addNs(publicNs)
    ip('-n', publicNs, 'link', 'add', 'name', BRIDGE, 'type', 'bridge') // no STP: ports forward at once
    ip('-n', publicNs, 'addr', 'add', `${PUBLIC_IP}/24`, 'dev', BRIDGE)
    ip('-n', publicNs, 'link', 'set', BRIDGE, 'up')

    options.homes.forEach(({ name, nat }, i) => {
      if (!/^[A-Za-z0-9]+$/.test(name)) throw new Error(`bad nat lab home name ${name}`)
      const home: NatHome = {
        name,
        ns: claim(`${prefix}-${name}`),
        routerNs: claim(`${prefix}-r${name}`),
        hostIp: `10.0.${1 + i}.2`,
        routerWanIp: `${PUBLIC_NET}.${11 + i}`,
        nat
      }
      usedIps.add(home.routerWanIp)
      homes[name] = home
      const router = home.routerNs
      addNs(router)
      addNs(home.ns)

      plugIntoBridge(router, WAN, `r${i}`, home.routerWanIp)
      ip('-n', router, 'link', 'add', 'name', LAN, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', home.ns)
      ip('-n', router, 'addr', 'add', `10.0.${1 + i}.1/24`, 'dev', LAN)
      ip('-n', router, 'link', 'set', LAN, 'up')
      ip('-n', home.ns, 'addr', 'add', `${home.hostIp}/24`, 'dev', 'eth0')
      ip('-n', home.ns, 'link', 'set', 'eth0', 'up')
      ip('-n', home.ns, 'route', 'add', 'default', 'via', `10.0.${1 + i}.1`)
      // The router has no route to any other home's 10.0.x.0/24, so a home reaches another
      // only through both NATs and the bridge (a dial to a private address fails at once).

      inNs(router, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1'])
      const iptables = (...args: string[]): void => { inNs(router, 'iptables', args) }
      // eim: Linux keeps the source port when it is free, which in practice is an
      // endpoint-independent mapping (what hole punching needs). symmetric: --random-fully
      // picks a new random port per connection, which the other side cannot predict.
      iptables('-t', 'nat', '-A', 'POSTROUTING', '-o', WAN, '-j', 'MASQUERADE', ...(nat === 'symmetric' ? ['--random-fully'] : []))
      // A home router's firewall: from the WAN side only replies to what went out (conntrack)
      // get in, to the host (FORWARD) or the router itself (INPUT). The rest is DROPped
      // silently, not rejected: a RST would kill a TCP simultaneous open whose first SYN
      // arrives before this side's own SYN has left.
      for (const chain of ['FORWARD', 'INPUT']) {
        iptables('-A', chain, '-i', WAN, '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT')
        iptables('-A', chain, '-i', WAN, '-j', 'DROP')
      }
    })
  } catch (err) {
    remove()
    throw err
  }
  return lab
}

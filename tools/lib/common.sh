# Shared by tools/demo and tools/test. Source it; do not run it.

# The repository root, whatever the caller's working directory.
TANDEM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# The Debian packages every build needs: the system libraries behind CPcap, CMnl and CZlib.
TANDEM_BUILD_PACKAGES=(pkg-config libpcap-dev libmnl-dev zlib1g-dev)

# The Debian packages the tests need beyond the build: tshark reads the pcap files Tandem writes.
# iproute2 makes the network namespaces of the Linux tests (they run as root; CI=true fails a skipped test);
# the end-to-end check (tools/lib/check-e2e) drives traffic with ping and iperf3 and learns routes from BIRD 2;
# the failover check (tools/lib/check-failover) makes silent blackholes with nftables (no sch_netem needed);
# the systemd check (tools/lib/check-systemd) verifies the units with systemd-analyze (systemd), applies the unit's
# capability bounding set with setpriv (util-linux) and lists Tandem's system calls with strace;
# the report check (tools/lib/check-report) renders `tandem replay --report`'s page in headless Chromium.
TANDEM_TEST_PACKAGES=(tshark python3 python3-pip iproute2 iputils-ping iperf3 bird2 nftables systemd strace util-linux chromium)

# The Python packages the tests need, from PyPI: scapy builds the golden packets of the replay test.
TANDEM_TEST_PYTHON_PACKAGES=(scapy)

log() { printf '==> %s\n' "$*" >&2; }

# ensure_packages PKG...: installs the Debian packages that are missing, with one
# `apt-get update` first. Needs root (or sudo) only when something is missing.
ensure_packages() {
    local missing=()
    local package
    for package in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$package")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing missing Debian packages: ${missing[*]}"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            echo "error: missing packages ${missing[*]} and not root; install them with apt-get as root" >&2
            exit 1
        fi
    fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ensure_python_packages PKG...: installs the PyPI packages python3 cannot import.
ensure_python_packages() {
    local missing=()
    local package
    for package in "$@"; do
        python3 -c "import $package" 2>/dev/null || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing missing Python packages from PyPI: ${missing[*]}"
    # Debian 12 marks its Python as externally managed; the packages go to the user's site either way.
    python3 -m pip install --quiet --disable-pip-version-check "${missing[@]}" 2>/dev/null \
        || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "${missing[@]}"
}

# require_swift: a clear message instead of "command not found".
require_swift() {
    if ! command -v swift >/dev/null 2>&1; then
        echo "error: swift is not on the PATH; install Swift 6.1 or later (https://swift.org/install)" >&2
        exit 1
    fi
}

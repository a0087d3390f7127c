# shellcheck shell=bash
# shellcheck disable=SC2034  # the addresses and names are for the scripts that source this file
# tools/lib/netns-topology.sh: the end-to-end test topology. Source it; do not run it.
#
#   site --veth-- gateway (Tandem runs here) --veth-- zone-a --veth-- cloud
#                                            \--veth-- zone-b --veth--/
#
# Five network namespaces named "tnd<pid>-<role>" (unique per run, so parallel runs cannot collide; a script that
# sets TOPO_PREFIX before sourcing this file gets "<TOPO_PREFIX><pid>-<role>", e.g. tools/soak's "tsoak<pid>-gw"),
# five veth pairs made inside them (nothing is ever made in, moved through or changed in the root
# namespace), IPv4 from 198.18.0.0/15 and IPv6 from 2001:db8::/32 on every link:
#
#   site   site0    198.18.0.2/24  2001:db8::2/64    <->  gateway gw-site  198.18.0.1/24  2001:db8::1/64
#   gateway gw-a    198.18.1.1/24  2001:db8:1::1/64  <->  zone-a  za-gw    198.18.1.2/24  2001:db8:1::2/64
#   gateway gw-b    198.18.2.1/24  2001:db8:2::1/64  <->  zone-b  zb-gw    198.18.2.2/24  2001:db8:2::2/64
#   zone-a za-cloud 198.18.3.1/24  2001:db8:3::1/64  <->  cloud   cl-a     198.18.3.2/24  2001:db8:3::2/64
#   zone-b zb-cloud 198.18.4.1/24  2001:db8:4::1/64  <->  cloud   cl-b     198.18.4.2/24  2001:db8:4::2/64
#
# The cloud's "remote" hosts are addresses on its lo (there is no dummy module): 198.19.0.1/32 and
# 2001:db8:100::1/128, inside the remote prefixes 198.19.0.0/16 and 2001:db8:100::/48. The site's
# default route points at the gateway; the zones route the site prefixes to the gateway and the remote
# prefixes to the cloud; the cloud routes the site prefixes back through zone-a (metric 100) and
# zone-b (metric 200, the backup). So replies come back through the kernel, never through Tandem.
# The gateway has no route to the remote prefixes: Tandem provides them, or topology_kernel_routes
# adds plain kernel routes (through zone-a) for the kernel baseline.
#
# Offloads stay at the kernel's defaults: veth does TSO/GSO/GRO, so a TCP stream crosses the kernel
# path as 64 KiB segments. (Measured on Linux 6.18: `ethtool -k` on a veth shows tcp-segmentation-offload
# and generic-segmentation-offload on.)
#
# Use: topology_create; ...; topology_destroy (the caller traps EXIT/INT/TERM to topology_destroy).
# topology_spawn NS LOGFILE CMD... starts a process inside a namespace and remembers its pid, so that
# topology_destroy stops it; topology_destroy also stops whatever else is left inside the namespaces.

# Namespace names: unique per run (and per tool, with TOPO_PREFIX).
TOPO_TAG="${TOPO_PREFIX:-tnd}$$"
TOPO_SITE="$TOPO_TAG-site"
TOPO_GW="$TOPO_TAG-gw"
TOPO_ZONE_A="$TOPO_TAG-za"
TOPO_ZONE_B="$TOPO_TAG-zb"
TOPO_CLOUD="$TOPO_TAG-cloud"
TOPO_NAMESPACES=("$TOPO_SITE" "$TOPO_GW" "$TOPO_ZONE_A" "$TOPO_ZONE_B" "$TOPO_CLOUD")

# Addresses the tests use.
TOPO_SITE_V4=198.18.0.2
TOPO_SITE_V6=2001:db8::2
TOPO_GW_SITE_V4=198.18.0.1
TOPO_GW_SITE_V6=2001:db8::1
TOPO_ZONE_A_V4=198.18.1.2
TOPO_ZONE_A_V6=2001:db8:1::2
TOPO_ZONE_B_V4=198.18.2.2
TOPO_ZONE_B_V6=2001:db8:2::2
TOPO_REMOTE_V4=198.19.0.1
TOPO_REMOTE_V6=2001:db8:100::1
TOPO_REMOTE_PREFIX_V4=198.19.0.0/16
TOPO_REMOTE_PREFIX_V6=2001:db8:100::/48
TOPO_SITE_PREFIX_V4=198.18.0.0/24
TOPO_SITE_PREFIX_V6=2001:db8::/64

# The pids topology_spawn started.
TOPO_PIDS=()

# topology_link NS_A DEV_A ADDR4_A ADDR6_A NS_B DEV_B ADDR4_B ADDR6_B: a veth pair made inside NS_A,
# its peer moved to NS_B, both ends addressed (IPv6 without DAD, so it is usable at once) and up.
topology_link() {
    local ns_a="$1" dev_a="$2" v4_a="$3" v6_a="$4" ns_b="$5" dev_b="$6" v4_b="$7" v6_b="$8"
    ip -n "$ns_a" link add "$dev_a" type veth peer name "$dev_b" netns "$ns_b"
    ip -n "$ns_a" addr add "$v4_a" dev "$dev_a"
    ip -n "$ns_a" addr add "$v6_a" dev "$dev_a" nodad
    ip -n "$ns_b" addr add "$v4_b" dev "$dev_b"
    ip -n "$ns_b" addr add "$v6_b" dev "$dev_b" nodad
    ip -n "$ns_a" link set "$dev_a" up
    ip -n "$ns_b" link set "$dev_b" up
}

# topology_sysctl NS KEY=VALUE...: sysctls inside a namespace (never the root namespace's).
topology_sysctl() {
    local ns="$1"
    shift
    ip netns exec "$ns" sysctl -qw "$@" >/dev/null
}

# topology_create: the five namespaces, their links, addresses, forwarding and routes.
topology_create() {
    local ns
    for ns in "${TOPO_NAMESPACES[@]}"; do
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        # Strict reverse-path filtering would drop what Tandem writes into its TUN devices (the site's
        # sources arrive on a device that does not route back to them); the namespaces are ours.
        topology_sysctl "$ns" net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
        # No duplicate address detection: a link-local address still tentative holds back neighbour
        # solicitations, and the first IPv6 packet over a new link would wait a second.
        topology_sysctl "$ns" net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    done
    for ns in "$TOPO_GW" "$TOPO_ZONE_A" "$TOPO_ZONE_B"; do
        topology_sysctl "$ns" net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    done

    topology_link "$TOPO_GW" gw-site 198.18.0.1/24 2001:db8::1/64 "$TOPO_SITE" site0 198.18.0.2/24 2001:db8::2/64
    topology_link "$TOPO_GW" gw-a 198.18.1.1/24 2001:db8:1::1/64 "$TOPO_ZONE_A" za-gw 198.18.1.2/24 2001:db8:1::2/64
    topology_link "$TOPO_GW" gw-b 198.18.2.1/24 2001:db8:2::1/64 "$TOPO_ZONE_B" zb-gw 198.18.2.2/24 2001:db8:2::2/64
    topology_link "$TOPO_ZONE_A" za-cloud 198.18.3.1/24 2001:db8:3::1/64 "$TOPO_CLOUD" cl-a 198.18.3.2/24 2001:db8:3::2/64
    topology_link "$TOPO_ZONE_B" zb-cloud 198.18.4.1/24 2001:db8:4::1/64 "$TOPO_CLOUD" cl-b 198.18.4.2/24 2001:db8:4::2/64

    ip -n "$TOPO_CLOUD" addr add "$TOPO_REMOTE_V4/32" dev lo
    ip -n "$TOPO_CLOUD" addr add "$TOPO_REMOTE_V6/128" dev lo

    ip -n "$TOPO_SITE" route add default via 198.18.0.1
    ip -n "$TOPO_SITE" -6 route add default via 2001:db8::1

    ip -n "$TOPO_ZONE_A" route add "$TOPO_SITE_PREFIX_V4" via 198.18.1.1
    ip -n "$TOPO_ZONE_A" -6 route add "$TOPO_SITE_PREFIX_V6" via 2001:db8:1::1
    ip -n "$TOPO_ZONE_A" route add "$TOPO_REMOTE_PREFIX_V4" via 198.18.3.2
    ip -n "$TOPO_ZONE_A" -6 route add "$TOPO_REMOTE_PREFIX_V6" via 2001:db8:3::2
    ip -n "$TOPO_ZONE_B" route add "$TOPO_SITE_PREFIX_V4" via 198.18.2.1
    ip -n "$TOPO_ZONE_B" -6 route add "$TOPO_SITE_PREFIX_V6" via 2001:db8:2::1
    ip -n "$TOPO_ZONE_B" route add "$TOPO_REMOTE_PREFIX_V4" via 198.18.4.2
    ip -n "$TOPO_ZONE_B" -6 route add "$TOPO_REMOTE_PREFIX_V6" via 2001:db8:4::2

    ip -n "$TOPO_CLOUD" route add "$TOPO_SITE_PREFIX_V4" via 198.18.3.1 metric 100
    ip -n "$TOPO_CLOUD" route add "$TOPO_SITE_PREFIX_V4" via 198.18.4.1 metric 200
    ip -n "$TOPO_CLOUD" -6 route add "$TOPO_SITE_PREFIX_V6" via 2001:db8:3::1 metric 100
    ip -n "$TOPO_CLOUD" -6 route add "$TOPO_SITE_PREFIX_V6" via 2001:db8:4::1 metric 200
}

# topology_create_extra_links: optional extra links for the failover checks (tools/lib/check-failover), made after
# topology_create; the five links above keep their names and addresses:
#
#   gateway gw-b2    198.18.5.1/24  2001:db8:5::1/64  <->  zone-b  zb-gw2    198.18.5.2/24  2001:db8:5::2/64
#   gateway gw-a2    198.18.6.1/24  2001:db8:6::1/64  <->  zone-a  za-gw2    198.18.6.2/24  2001:db8:6::2/64
#   zone-a za-cloud2 198.18.7.1/24  2001:db8:7::1/64  <->  cloud   cl-a2     198.18.7.2/24  2001:db8:7::2/64
#   zone-b zb-cloud2 198.18.8.1/24  2001:db8:8::1/64  <->  cloud   cl-b2     198.18.8.2/24  2001:db8:8::2/64
#
# So the gateway has four paths to the cloud, and the cloud's receiver tells them apart by the interface a datagram
# comes in on: gw-a -> cl-a, gw-b -> cl-b, gw-a2 -> cl-a2, gw-b2 -> cl-b2. Each zone sends what came in on its second
# link out of its second cloud link (a rule `iif <second link> lookup 102` at priority 100, table 102 holding the
# remote prefixes through the second cloud link); everything else keeps the routes above. The cloud still routes
# the site prefixes back through zone-a.
topology_create_extra_links() {
    topology_link "$TOPO_GW" gw-b2 198.18.5.1/24 2001:db8:5::1/64 "$TOPO_ZONE_B" zb-gw2 198.18.5.2/24 2001:db8:5::2/64
    topology_link "$TOPO_GW" gw-a2 198.18.6.1/24 2001:db8:6::1/64 "$TOPO_ZONE_A" za-gw2 198.18.6.2/24 2001:db8:6::2/64
    topology_link "$TOPO_ZONE_A" za-cloud2 198.18.7.1/24 2001:db8:7::1/64 "$TOPO_CLOUD" cl-a2 198.18.7.2/24 2001:db8:7::2/64
    topology_link "$TOPO_ZONE_B" zb-cloud2 198.18.8.1/24 2001:db8:8::1/64 "$TOPO_CLOUD" cl-b2 198.18.8.2/24 2001:db8:8::2/64
    local ns second cloud4 cloud6 family
    for ns in "$TOPO_ZONE_A" "$TOPO_ZONE_B"; do
        if [ "$ns" = "$TOPO_ZONE_A" ]; then second=za-gw2 cloud4=198.18.7.2 cloud6=2001:db8:7::2
        else second=zb-gw2 cloud4=198.18.8.2 cloud6=2001:db8:8::2; fi
        for family in 4 6; do
            ip -n "$ns" "-$family" rule add iif "$second" lookup 102 priority 100
        done
        ip -n "$ns" route add "$TOPO_REMOTE_PREFIX_V4" via "$cloud4" table 102
        ip -n "$ns" -6 route add "$TOPO_REMOTE_PREFIX_V6" via "$cloud6" table 102
    done
}

# topology_kernel_routes add|del: plain kernel routes in the gateway to the remote prefixes through
# zone-a, for the kernel baseline (no Tandem). Remove them before Tandem runs.
topology_kernel_routes() {
    local action="$1"
    ip -n "$TOPO_GW" route "$action" "$TOPO_REMOTE_PREFIX_V4" via 198.18.1.2 dev gw-a
    ip -n "$TOPO_GW" -6 route "$action" "$TOPO_REMOTE_PREFIX_V6" via 2001:db8:1::2 dev gw-a
}

# topology_tandem_config FILE MODE QUEUES OFFLOADS [EXTRA_PREFIX]: Tandem's configuration for this topology:
# ingress tnd-in, tunnel a1 (tnd-a1, out of gw-a to zone-a) active and a2 (tnd-a2, out of gw-b to zone-b)
# standby in one connection, the remote prefixes (and EXTRA_PREFIX) through it, table 200 and proto 201,
# learning BIRD's routes from the main table. TOPO_TUN_QUEUE_LENGTH (2048, Tandem's default) is the TUN devices'
# queue length (linux.tun-queue-length), TOPO_TUN_QUEUE_DELAY (2ms, Tandem's default) linux.tun-queue-delay.
topology_tandem_config() {
    local file="$1" mode="$2" queues="$3" offloads="$4" extra="${5:-}"
    cat > "$file" <<YAML
gateway:
  name: e2e
  mode: $mode
  ingress: tnd-in
icmp:
  source-ipv4: $TOPO_GW_SITE_V4
  source-ipv6: $TOPO_GW_SITE_V6
linux:
  protocol: 201
  table: 200
  rule-priority: 1000
  queues: $queues
  tun-queue-length: ${TOPO_TUN_QUEUE_LENGTH:-2048}
  tun-queue-delay: ${TOPO_TUN_QUEUE_DELAY:-2ms}
  offloads: $offloads
  keep-routes-on-exit: false
tunnels:
  - name: a1
    device: tnd-a1
    interface: gw-a
    next-hop-ipv4: $TOPO_ZONE_A_V4
    next-hop-ipv6: $TOPO_ZONE_A_V6
    peer: $TOPO_ZONE_A_V4
    zone: zone-a
    mtu: 1500
  - name: a2
    device: tnd-a2
    interface: gw-b
    next-hop-ipv4: $TOPO_ZONE_B_V4
    next-hop-ipv6: $TOPO_ZONE_B_V6
    peer: $TOPO_ZONE_B_V4
    zone: zone-b
    mtu: 1500
connections:
  - name: to-cloud
    tunnels: [a1, a2]
routes:
  - prefix: $TOPO_REMOTE_PREFIX_V4
    connection: to-cloud
  - prefix: $TOPO_REMOTE_PREFIX_V6
    connection: to-cloud
YAML
    if [ -n "$extra" ]; then
        printf '  - prefix: %s\n    connection: to-cloud\n' "$extra" >> "$file"
    fi
    cat >> "$file" <<YAML
learning:
  table: 254
  protocols: [bird]
limits:
  dynamic-routes: 100
YAML
}

# topology_wait_until SECONDS CMD...: runs CMD every 0.1 s until it succeeds; returns 1 after SECONDS.
topology_wait_until() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

# topology_start_tandem BINARY CONFIG LOGFILE [ARG...]: `tandem run --config CONFIG ARG...` in the gateway
# namespace (pid in TOPO_LAST_PID), waiting up to 20 s for its "tandem: ready" line. Returns 1, and shows the
# log, when it exits or does not get ready.
topology_start_tandem() {
    local binary="$1" config="$2" logfile="$3"
    shift 3
    topology_spawn "$TOPO_GW" "$logfile" "$binary" run --config "$config" "$@"
    topology_wait_tandem_ready "$TOPO_LAST_PID" "$logfile"
}

# topology_wait_tandem_ready PID LOGFILE: waits up to 20 s for the "tandem: ready" line of the `tandem run` PID in
# LOGFILE. Returns 1, and shows the log, when it exits or does not get ready.
topology_wait_tandem_ready() {
    local pid="$1" logfile="$2"
    topology_wait_until 20 eval "grep -q '^tandem: ready' '$logfile' || ! kill -0 $pid" || true
    if grep -q '^tandem: ready' "$logfile" && kill -0 "$pid" 2>/dev/null; then
        return 0
    fi
    echo "tandem run did not say 'tandem: ready' within 20 s (or exited); its log ($logfile):" >&2
    sed 's/^/    /' "$logfile" >&2
    return 1
}

# topology_spawn NS LOGFILE CMD...: starts CMD inside NS in the background, output to LOGFILE, and
# remembers its pid in TOPO_PIDS (and TOPO_LAST_PID). `ip netns exec` execs CMD, so the pid is CMD's.
topology_spawn() {
    local ns="$1" logfile="$2"
    shift 2
    ip netns exec "$ns" "$@" > "$logfile" 2>&1 &
    TOPO_LAST_PID=$!
    TOPO_PIDS+=("$TOPO_LAST_PID")
}

# topology_forget PID: a process that has ended leaves TOPO_PIDS (its pid may be reused; never signal it again).
topology_forget() {
    local kept=() pid
    for pid in "${TOPO_PIDS[@]}"; do
        [ "$pid" = "$1" ] || kept+=("$pid")
    done
    TOPO_PIDS=("${kept[@]}")
}

# topology_stop PID [SIGNAL]: sends SIGNAL (TERM) to one process we started and waits up to 5 s for it
# to end (then KILL). Returns the process's exit status when it is our child, else 0.
topology_stop() {
    local pid="$1" signal="${2:-TERM}"
    if ! kill -s "$signal" "$pid" 2>/dev/null; then
        { wait "$pid"; } 2>/dev/null || true
        topology_forget "$pid"
        return 0
    fi
    # (braces: bash's "Killed" job notice, printed when it reaps the process, goes to the redirected stderr too)
    {
        for _ in $(seq 50); do
            kill -0 "$pid" || break
            sleep 0.1
        done
        kill -0 "$pid" && kill -s KILL "$pid"
    } 2>/dev/null
    local status=0
    { wait "$pid"; } 2>/dev/null || status=$?
    topology_forget "$pid"
    return "$status"
}

# topology_destroy: stops every process started here and every process still inside the namespaces
# (by pid: iperf3, bird, tandem), then removes the namespaces with their devices. Safe to call twice.
topology_destroy() {
    local pid ns pids
    for pid in "${TOPO_PIDS[@]}"; do
        kill -s TERM "$pid" 2>/dev/null || true
    done
    for ns in "${TOPO_NAMESPACES[@]}"; do
        [ -e "/run/netns/$ns" ] || continue
        pids="$(ip netns pids "$ns" 2>/dev/null || true)"
        for pid in $pids; do
            kill -s TERM "$pid" 2>/dev/null || true
        done
    done
    sleep 0.3
    for ns in "${TOPO_NAMESPACES[@]}"; do
        [ -e "/run/netns/$ns" ] || continue
        pids="$(ip netns pids "$ns" 2>/dev/null || true)"
        for pid in $pids; do
            kill -s KILL "$pid" 2>/dev/null || true
        done
    done
    for ns in "${TOPO_NAMESPACES[@]}"; do
        [ -e "/run/netns/$ns" ] || continue
        ip netns del "$ns" 2>/dev/null || { sleep 0.5; ip netns del "$ns" || echo "warning: could not remove namespace $ns" >&2; }
    done
    for pid in "${TOPO_PIDS[@]}"; do
        { wait "$pid"; } 2>/dev/null || true
    done
    TOPO_PIDS=()
    return 0
}

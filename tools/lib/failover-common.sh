# shellcheck shell=bash
# shellcheck disable=SC2154  # lib, work, RATE, INTERVAL_MS, DOWN_COUNT, UP_COUNT come from the script that sources this
# tools/lib/failover-common.sh: what tools/lib/check-failover, tools/bench-failover and tools/demo share. Source it
# after netns-topology.sh, with these set: lib (tools/lib), work (a scratch directory), INTERVAL_MS, DOWN_COUNT,
# UP_COUNT and RATE, and a function fail MESSAGE. Do not run it.
#
# The topology with its extra links (netns-topology.sh), UDP echo in both zones, the failures of a path (link down, or
# a silent nftables blackhole), Tandem's configurations (a dual-tunnel connection with a backup connection, four
# single-tunnel connections for ECMP) and a sequence-numbered UDP stream from the site to the cloud
# (udp-stream.py) with actions at set moments.

now() { date +%s.%N; }

# sleep_until T: until wall time T (seconds since the epoch).
sleep_until() {
    local pause
    pause="$(awk -v t="$1" -v n="$(now)" 'BEGIN { d = t - n; if (d < 0) d = 0; printf "%.3f", d }')"
    sleep "$pause"
}

add() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a + b }'; }

# --- the topology ---------------------------------------------------------------------------------

setup_topology() {
    topology_create
    topology_create_extra_links
    local ns
    for ns in "${TOPO_NAMESPACES[@]}"; do
        # A link set down keeps its IPv6 addresses (and IPv6 comes back with the link).
        topology_sysctl "$ns" net.ipv6.conf.all.keep_addr_on_down=1 net.ipv6.conf.default.keep_addr_on_down=1
    done
    # Kernel mode: the kernel hashes flows over the group; with the default policy (0: addresses only) every
    # flow of the stream would take the same path. Policy 1 hashes the 5-tuple, as ecmp.hash l3l4 asks.
    topology_sysctl "$TOPO_GW" net.ipv4.fib_multipath_hash_policy=1 net.ipv6.fib_multipath_hash_policy=1
    # UDP echo (RFC 862) in both zones, for the UDP probes.
    topology_spawn "$TOPO_ZONE_A" "$work/echo-za.log" python3 "$lib/udp-echo.py" --port 7
    topology_spawn "$TOPO_ZONE_B" "$work/echo-zb.log" python3 "$lib/udp-echo.py" --port 7
    topology_wait_until 5 grep -q listening "$work/echo-za.log" "$work/echo-zb.log" || true
}

# break_path KIND NS DEV / restore_path KIND NS DEV: the link down, or a silent blackhole (nftables drops
# everything arriving on DEV, in NS's netdev ingress hook; the link stays up).
break_path() {
    case "$1" in
        link) ip -n "$2" link set "$3" down ;;
        blackhole)
            # One transaction: the drop starts at one moment, which the caller's clock brackets closely even when
            # the machine is loaded (two nft commands left tens of milliseconds between them under a flood).
            ip netns exec "$2" nft -f - <<NFT
add table netdev blackhole
add chain netdev blackhole in { type filter hook ingress device "$3" priority 0; policy drop; }
NFT
            ;;
    esac
}
restore_path() {
    case "$1" in
        link) ip -n "$2" link set "$3" up ;;
        blackhole) ip netns exec "$2" nft delete table netdev blackhole ;;
    esac
}

# health_check SRC DST PROTOCOL: the probes of this check.
health_check() {
    local port=""
    [ "$3" = udp ] && port=", port: 7"
    printf '{source: %s, destination: %s, protocol: %s%s, interval: %sms, timeout: %sms, %s}' \
        "$1" "$2" "$3" "$port" "$INTERVAL_MS" "$INTERVAL_MS" "down-count: $DOWN_COUNT, up-count: $UP_COUNT"
}

# config_head FILE MODE: the gateway, ICMP, linux and ECMP sections (FAILOVER_QUEUES, FAILOVER_TUN_QUEUE,
# FAILOVER_TUN_QUEUE_DELAY: the linux section's queues, 1 by default, tun-queue-length and tun-queue-delay, Tandem's
# defaults unless set).
config_head() {
    cat > "$1" <<YAML
gateway: {name: failover, mode: $2, ingress: tnd-in}
icmp: {source-ipv4: $TOPO_GW_SITE_V4, source-ipv6: $TOPO_GW_SITE_V6}
linux: {protocol: 201, table: 200, rule-priority: 1000, queues: ${FAILOVER_QUEUES:-1}${FAILOVER_TUN_QUEUE:+, tun-queue-length: $FAILOVER_TUN_QUEUE}${FAILOVER_TUN_QUEUE_DELAY:+, tun-queue-delay: $FAILOVER_TUN_QUEUE_DELAY}}
ecmp: {hash: l3l4, seed: 0x5eed, buckets: 1024}
YAML
}

# tunnel NAME INTERFACE GW_V4 GW_V6 NEXT_V4 NEXT_V6 ZONE PROTOCOL: one tunnel, probed from the gateway's address on
# its link to the zone router's.
tunnel() {
    cat <<YAML
  - name: $1
    device: tnd-$1
    interface: $2
    next-hop-ipv4: $5
    next-hop-ipv6: $6
    peer: $5
    zone: $7
    mtu: 1500
    health-check: $(health_check "$3" "$5" "$8")
YAML
}

# write_dual_config FILE MODE PREEMPT DAMPING: to-cloud = a1 (gw-a, ICMP probes) active and a2 (gw-b, UDP probes)
# standby; 'backup' = b1 (gw-b2) alone, with routes of a higher metric. DAMPING: "" or a damping mapping.
# FAILOVER_EXTRA_YAML, when set, is appended (e.g. learning and limits sections).
write_dual_config() {
    local file="$1" damping=""
    [ -z "$4" ] || damping=", damping: $4"
    config_head "$file" "$2"
    {
        echo "tunnels:"
        tunnel a1 gw-a 198.18.1.1 2001:db8:1::1 198.18.1.2 2001:db8:1::2 zone-a icmp
        tunnel a2 gw-b 198.18.2.1 2001:db8:2::1 198.18.2.2 2001:db8:2::2 zone-b udp
        tunnel b1 gw-b2 198.18.5.1 2001:db8:5::1 198.18.5.2 2001:db8:5::2 zone-b icmp
        cat <<YAML
connections:
  - {name: to-cloud, tunnels: [a1, a2], preempt-delay: $3$damping}
  - {name: backup, tunnels: [b1]}
routes:
  - {prefix: $TOPO_REMOTE_PREFIX_V4, connection: to-cloud}
  - {prefix: $TOPO_REMOTE_PREFIX_V6, connection: to-cloud}
  - {prefix: $TOPO_REMOTE_PREFIX_V4, connection: backup, metric: 100}
  - {prefix: $TOPO_REMOTE_PREFIX_V6, connection: backup, metric: 100}
YAML
        [ -z "${FAILOVER_EXTRA_YAML:-}" ] || printf '%s\n' "$FAILOVER_EXTRA_YAML"
    } >> "$file"
}

# write_ecmp_config FILE MODE: four single-tunnel connections, the remote prefixes through all four (one group).
write_ecmp_config() {
    local file="$1" c
    config_head "$file" "$2"
    {
        echo "tunnels:"
        tunnel t1 gw-a 198.18.1.1 2001:db8:1::1 198.18.1.2 2001:db8:1::2 zone-a icmp
        tunnel t2 gw-b 198.18.2.1 2001:db8:2::1 198.18.2.2 2001:db8:2::2 zone-b udp
        tunnel t3 gw-a2 198.18.6.1 2001:db8:6::1 198.18.6.2 2001:db8:6::2 zone-a icmp
        tunnel t4 gw-b2 198.18.5.1 2001:db8:5::1 198.18.5.2 2001:db8:5::2 zone-b icmp
        echo "connections:"
        for c in 1 2 3 4; do echo "  - {name: c$c, tunnels: [t$c]}"; done
        echo "routes:"
        for c in 1 2 3 4; do
            echo "  - {prefix: $TOPO_REMOTE_PREFIX_V4, connection: c$c}"
            echo "  - {prefix: $TOPO_REMOTE_PREFIX_V6, connection: c$c}"
        done
    } >> "$file"
}

# --- the stream -----------------------------------------------------------------------------------

STREAM_START=""
STREAM_NAME=""
STREAM_PIDS=()

# stream_start NAME SECONDS FLOWS FAMILY...: a receiver in the cloud and a sender in the site per family (4 on
# port 5555, 6 on port 5556), RATE datagrams per second each; STREAM_START is the wall time the senders start.
# With STREAM_PROGRESS=SECONDS the receivers log their datagrams per interface that often.
stream_start() {
    local name="$1" seconds="$2" flows="$3" family port bind to
    shift 3
    STREAM_NAME="$name"
    STREAM_PIDS=()
    for family in "$@"; do
        if [ "$family" = 4 ]; then port=5555 bind=0.0.0.0 to="$TOPO_REMOTE_V4"
        else port=5556 bind=:: to="$TOPO_REMOTE_V6"; fi
        topology_spawn "$TOPO_CLOUD" "$work/$name-v$family.recv.log" \
            python3 "$lib/udp-stream.py" receive --port "$port" --bind "$bind" \
            --seconds "$(add "$seconds" 2)" --out "$work/$name-v$family.json" --max-gaps 5000 \
            ${STREAM_PROGRESS:+--progress "$STREAM_PROGRESS"}
        STREAM_PIDS+=("$TOPO_LAST_PID")
        topology_wait_until 5 ip netns exec "$TOPO_CLOUD" sh -c "ss -lun | grep -q ':$port '" || true
    done
    STREAM_START="$(now)"
    # (Source ports 40000+ for IPv4 and 41000+ for IPv6: an IPv6 socket bound to :: holds the IPv4 port too.)
    for family in "$@"; do
        if [ "$family" = 4 ]; then port=5555 to="$TOPO_REMOTE_V4"; else port=5556 to="$TOPO_REMOTE_V6"; fi
        topology_spawn "$TOPO_SITE" "$work/$name-v$family.send.log" \
            python3 "$lib/udp-stream.py" send --to "$to" --port "$port" --rate "$RATE" --seconds "$seconds" \
            --flows "$flows" --source-port-base $((family == 4 ? 40000 : 41000))
        STREAM_PIDS+=("$TOPO_LAST_PID")
    done
}

# stream_at OFFSET: sleeps until OFFSET seconds after the stream started.
stream_at() { sleep_until "$(add "$STREAM_START" "$1")"; }

# stream_sent NAME FAMILY: how many datagrams of flow 0 the sender of that family sent (its output's "sent"[0]),
# after stream_wait; 0 when its output cannot be read (the analysis then goes by the receiver's count alone).
stream_sent() {
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["sent"][0])' "$work/$1-v$2.send.log" 2>/dev/null \
        || echo 0
}

# stream_wait: the senders and receivers end (the receivers write their summaries); a sender or receiver that
# failed is a FAIL with its last line.
stream_wait() {
    local pid
    for pid in "${STREAM_PIDS[@]}"; do
        { wait "$pid"; } 2>/dev/null || true
        topology_forget "$pid"
    done
    STREAM_PIDS=()
    local logfile
    for logfile in "$work/$STREAM_NAME"-v*.send.log "$work/$STREAM_NAME"-v*.recv.log; do
        [ -f "$logfile" ] || continue
        if grep -q 'Error\|Traceback' "$logfile"; then
            fail "$(basename "$logfile" .log): $(tail -1 "$logfile")"
        fi
    done
}


#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The split-learning demo: two maskwire data planes joined by a link, a
# split-CNN client and server (examples/split_learning) training on
# Fashion-MNIST through them. About a minute with the defaults.
#
# Usage: scripts/run-demo.sh [options]   (as root: DPDK vdevs, namespaces)
#   --link memif|af_packet   memif between the two processes (default), or
#                            net_af_packet over a veth pair between two
#                            network namespaces created (and removed) here
#   --clients N              N clients (default 1), each with its own data
#                            plane and 1/N of the training images, against
#                            one server process and one server data plane;
#                            N > 1: net_af_packet on veths plugged into a
#                            Linux bridge, each data plane in a network
#                            namespace made here (N <= 8, the server data
#                            plane's peers)
#   --servers S              with --clients N: S server processes, each with
#                            its own data plane and N/S of the clients,
#                            keeping one server model with torch.distributed
#                            (DDP over gloo on localhost; S divides N)
#   --act-codec C            activations: ms (default), dense, topk-eq,
#                            quant3, or codec:ratio:bits[:rounding]
#   --grad-codec C           gradients: ms-signed-sr (default: signed MS
#                            with stochastic rounding, docs/CODEC.md),
#                            ms-signed (round to nearest), dense, or
#                            codec:ratio:bits[:rounding]
#   --epochs N               (default 2)
#   --train-limit N          training images used (default 12800)
#   --test-limit N           test images used (default 2000)
#   --loss P                 each data plane drops P of the frames it sends
#                            (its fault injection, --tx-drop; seeded by
#                            --seed)
#   --deadline-ms D          data planes send float tensors with a delivery
#                            deadline of D ms (docs/PROTOCOL.md 9.1)
#   --delay-ms D             each data plane holds every frame it sends D ms
#                            (--delay-ms: a long path, round trip 2D)
#   --cc reno|rate           the data planes' congestion controller
#                            (default reno; rate does not read random loss
#                            as congestion, docs/CC.md)
#   --seed N                 training and fault-injection seed (default 1)
#   --json FILE              also write the client's summary there (with
#                            --clients N: {"clients": [N summaries]})
#   --build DIR              build directory (default build/)
#   --no-deps                do not run scripts/deps.sh --demo
# Everything it starts or creates (processes, sockets, regions, EAL files,
# namespaces, veth pair) is removed on exit, Ctrl-C included.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

link=memif act=ms grad=ms-signed-sr epochs=2 train=12800 test=2000
json="" build=build deps=1 loss=0 deadline=0 delay=0 seed=1 clients=1 servers=1
cc=reno
while [ $# -gt 0 ]; do
	case "$1" in
	--link) link=$2; shift ;;
	--clients) clients=$2; shift ;;
	--servers) servers=$2; shift ;;
	--act-codec) act=$2; shift ;;
	--grad-codec) grad=$2; shift ;;
	--epochs) epochs=$2; shift ;;
	--train-limit) train=$2; shift ;;
	--test-limit) test=$2; shift ;;
	--json) json=$2; shift ;;
	--loss) loss=$2; shift ;;
	--deadline-ms) deadline=$2; shift ;;
	--delay-ms) delay=$2; shift ;;
	--cc) cc=$2; shift ;;
	--seed) seed=$2; shift ;;
	--build) build=$2; shift ;;
	--no-deps) deps=0 ;;
	-h|--help) awk 'NR > 2 && !/^#/ { exit } NR > 2 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
	*) echo "run-demo.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
case "$link" in memif|af_packet) ;; *)
	echo "run-demo.sh: --link memif or af_packet" >&2; exit 2 ;;
esac
case "$clients" in [1-8]) ;; *)
	echo "run-demo.sh: --clients 1 to 8" >&2; exit 2 ;;
esac
case "$servers" in [1-8]) ;; *)
	echo "run-demo.sh: --servers 1 to 8" >&2; exit 2 ;;
esac
if [ $((clients % servers)) -ne 0 ] || { [ "$servers" -gt 1 ] && [ "$clients" -eq "$servers" ]; }; then
	echo "run-demo.sh: --servers S must divide --clients N, N > S" >&2; exit 2
fi
per=$((clients / servers))   # clients of each server
[ "$clients" -gt 1 ] && link=bridge
if [ "$(id -u)" -ne 0 ]; then
	echo "run-demo.sh: run as root (DPDK vdevs, EAL files, namespaces)" >&2
	exit 1
fi

[ "$deps" = 1 ] && scripts/deps.sh --demo
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" >/dev/null
fi
ninja -C "$build" >/dev/null
case "$build" in /*) ;; *) build="$root/$build" ;; esac  # absolute from here
mw="$build/apps/maskwire/maskwire"
export MASKWIRE_LIB="$build/dataplane/shm/libmaskwire.so"
export PYTHONPATH="$root/python${PYTHONPATH:+:$PYTHONPATH}"  # maskwire
py=/usr/bin/python3
[ -x "$mw" ] || { echo "run-demo.sh: $mw was not built (DPDK missing?)" >&2; exit 1; }

id=mwdemo$$
tmp=$(mktemp -d /tmp/mw-demo.XXXXXX)
# The two data planes' pre-shared key: a throwaway one for this run
# (a real deployment makes one and places it on both hosts: README).
(umask 077; head -c 32 /dev/urandom | base64 > "$tmp/demo.key")
pids=() dps=() nss=()
cleanup() {
	trap - EXIT INT TERM
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	# data planes: the memif client side (started last) stops first
	for ((i = ${#dps[@]} - 1; i >= 0; i--)); do
		kill -TERM "${dps[i]}" 2>/dev/null || true
		for _ in $(seq 100); do
			kill -0 "${dps[i]}" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "${dps[i]}" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	for ns in "${nss[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
	ip link del "${id}a" 2>/dev/null || true
	for s in a b s{0..8} c{0..8}; do
		rm -rf "/var/run/dpdk/$id$s" "/dev/shm/$id$s"
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo; echo "interrupted"; exit 130' INT TERM

# start_dp SIDE IP PEER[,PEER...] VDEV [NETNS]
start_dp() {
	local side=$1 ip=$2 peer=$3 vdev=$4 ns=${5:-} p
	local cmd=("$mw" --no-pci --no-huge -m 512 --file-prefix "$id$side"
		"--vdev=$vdev" -- --ip "$ip")
	for p in ${peer//,/ }; do cmd+=(--peer "$p"); done
	cmd+=(--shm "$id$side" --key "$tmp/demo.key"
		--idle-yield --status-ms 0 --stats "$tmp/dp-$side.json"
		--deadline-ms "$deadline" --cc "$cc")
	if [ "$loss" != 0 ]; then
		# each side its own loss pattern, both from --seed
		cmd+=(--tx-drop "$loss" --fault-seed "$((seed * 2 + ${#dps[@]}))")
	fi
	[ "$delay" != 0 ] && cmd+=(--delay-ms "$delay")
	[ -n "$ns" ] && cmd=(ip netns exec "$ns" "${cmd[@]}")
	"${cmd[@]}" >"$tmp/dp-$side.log" 2>&1 &
	dps+=($!)
	for _ in $(seq 200); do
		[ -e "/dev/shm/$id$side" ] && return 0
		kill -0 "${dps[-1]}" 2>/dev/null || break
		sleep 0.05
	done
	echo "run-demo.sh: data plane $side did not start:" >&2
	grep -v '^EAL:\|^TELEMETRY:' "$tmp/dp-$side.log" >&2 || true
	exit 1
}

vdev="net_af_packet0,iface=%s,framecnt=8192,qdisc_bypass=1"
if [ "$link" = bridge ]; then
	# A namespace with a bridge (the switch), and each data plane in a
	# namespace of its own with a veth whose other end is on the bridge
	# (af_packet's fanout groups are per namespace: data planes sharing
	# one could collide). The data planes own the addresses.
	ns="${id}n"
	nss=("$ns")
	ip netns add "$ns"
	ip netns exec "$ns" ip link add br0 type bridge
	ip netns exec "$ns" ip link set br0 up
	for s in $(seq -f 's%g' 0 $((servers - 1))) \
		$(seq -f 'c%g' 0 $((clients - 1))); do
		nss+=("$id$s")
		ip netns add "$id$s"
		ip link add "v$s" netns "$id$s" type veth peer name "b$s" \
			netns "$ns"
		ip netns exec "$ns" ip link set "b$s" master br0
		ip netns exec "$id$s" sysctl -qw "net.ipv6.conf.v$s.disable_ipv6=1"
		ip netns exec "$ns" sysctl -qw "net.ipv6.conf.b$s.disable_ipv6=1"
		ip netns exec "$id$s" ip link set "v$s" up
		ip netns exec "$ns" ip link set "b$s" up
	done
	# server j at 10.77.0.(1+j) serves clients j*per .. j*per+per-1,
	# client i is at 10.77.0.(11+i)
	for ((j = 0; j < servers; j++)); do
		peers=""
		for ((i = j * per; i < (j + 1) * per; i++)); do
			peers+="${peers:+,}10.77.0.$((11 + i))"
		done
		# shellcheck disable=SC2059
		start_dp "s$j" "10.77.0.$((1 + j))" "$peers" \
			"$(printf "$vdev" "vs$j")" "${id}s$j"
	done
	for ((i = 0; i < clients; i++)); do
		# shellcheck disable=SC2059
		start_dp "c$i" "10.77.0.$((11 + i))" "10.77.0.$((1 + i / per))" \
			"$(printf "$vdev" "vc$i")" "${id}c$i"
	done
elif [ "$link" = memif ]; then
	sock="$tmp/memif.sock"
	start_dp a 10.77.0.1 10.77.0.2 \
		"net_memif0,role=server,socket=$sock,socket-abstract=no"
	for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.05; done
	start_dp b 10.77.0.2 10.77.0.1 \
		"net_memif0,role=client,socket=$sock,socket-abstract=no"
else
	nss=("${id}a" "${id}b")
	ip netns add "${id}a"
	ip netns add "${id}b"
	ip link add "${id}a" type veth peer name "${id}b"
	for s in a b; do
		ip link set "$id$s" netns "$id$s"
		ip netns exec "$id$s" sysctl -qw "net.ipv6.conf.$id$s.disable_ipv6=1"
		ip netns exec "$id$s" ip link set "$id$s" up
	done
	# shellcheck disable=SC2059
	start_dp a 10.77.0.1 10.77.0.2 "$(printf "$vdev" "${id}a")" "${id}a"
	# shellcheck disable=SC2059
	start_dp b 10.77.0.2 10.77.0.1 "$(printf "$vdev" "${id}b")" "${id}b"
fi

more=""
[ "$clients" -gt 1 ] && more=", $clients clients"
[ "$servers" -gt 1 ] && more+=", $servers server processes"
echo "maskwire demo: split CNN on Fashion-MNIST ($train training / $test test" \
	"images, $epochs epoch(s)), activations $act, gradients $grad, link $link," \
	"loss $loss, deadline ${deadline} ms, delay ${delay} ms$more"
common=(--epochs "$epochs" --train-limit "$train" --test-limit "$test"
	--act-codec "$act" --grad-codec "$grad" --threads 1
	--loss "$loss" --deadline-ms "$deadline" --delay-ms "$delay" --seed "$seed")
if [ "$clients" -gt 1 ]; then
	srvs=()
	for ((j = 0; j < servers; j++)); do
		ddp=()
		[ "$servers" -gt 1 ] && ddp=(--ddp "$j/$servers"
			--ddp-init "tcp://127.0.0.1:$((20000 + $$ % 20000))")
		$py examples/split_learning/splitlearn.py server --shm "${id}s$j" \
			--clients "$per" "${ddp[@]}" "${common[@]}" \
			>"$tmp/server$j.log" 2>&1 &
		srvs+=($!)
		pids+=($!)
	done
	clis=()
	for ((i = 0; i < clients; i++)); do
		# client 0 on the terminal, the others in their logs
		out=/dev/stdout
		[ "$i" -gt 0 ] && out="$tmp/client$i.log"
		$py examples/split_learning/splitlearn.py client --shm "${id}c$i" \
			--shard "$i/$clients" --json "$tmp/client$i.json" \
			"${common[@]}" >"$out" 2>&1 &
		clis+=($!)
		pids+=($!)
	done
	for ((i = 0; i < clients; i++)); do
		if ! wait "${clis[i]}"; then
			echo "run-demo.sh: client $i failed; its log, its data" \
				"plane's and the server's:" >&2
			[ "$i" -gt 0 ] && tail -20 "$tmp/client$i.log" >&2
			{ grep -v '^EAL:\|^TELEMETRY:' "$tmp/dp-c$i.log" || true; } | tail -5 >&2
			# a server that failed first says why as it exits
			j=$((i / per))
			for _ in $(seq 50); do
				kill -0 "${srvs[j]}" 2>/dev/null || break
				sleep 0.1
			done
			tail -20 "$tmp/server$j.log" >&2
			exit 1
		fi
	done
	for ((j = 0; j < servers; j++)); do
		if ! wait "${srvs[j]}"; then
			echo "run-demo.sh: server $j failed:" >&2
			tail -20 "$tmp/server$j.log" >&2
			exit 1
		fi
	done
	pids=()
	cat "$tmp"/server*.log
	$py - "$tmp" "$clients" "$json" <<'PY'
import json, sys
tmp, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
runs = [json.load(open(f"{tmp}/client{i}.json")) for i in range(n)]
for i, r in enumerate(runs):
    print(f"client {i}: {r['train_images']} training images, test accuracy "
          f"{100 * r['final_test_acc']:.2f}%, wire {r['wire_bytes_up'] / 1e6:.2f} MB up, "
          f"{r['wire_bytes_down'] / 1e6:.2f} MB down, {r['wall_s']} s")
acc = sum(r["final_test_acc"] for r in runs) / n
print(f"{n} clients: mean test accuracy {100 * acc:.2f}%")
if out:
    with open(out, "w") as f:
        json.dump({"clients": runs, "mean_test_acc": round(acc, 4)}, f,
                  indent=1)
        f.write("\n")
PY
	exit 0
fi
$py examples/split_learning/splitlearn.py server --shm "${id}b" "${common[@]}" \
	>"$tmp/server.log" 2>&1 &
srv=$!
pids+=("$srv")
client_args=(client --shm "${id}a" "${common[@]}")
[ -n "$json" ] && client_args+=(--json "$json")
# In the background and waited for, so a signal to this script runs the
# cleanup at once (bash defers traps while a foreground command runs).
$py examples/split_learning/splitlearn.py "${client_args[@]}" &
cli=$!
pids+=("$cli")
if ! wait "$cli"; then
	echo "run-demo.sh: the client failed; server log:" >&2
	tail -20 "$tmp/server.log" >&2
	exit 1
fi
if ! wait "$srv"; then
	echo "run-demo.sh: the server failed:" >&2
	tail -20 "$tmp/server.log" >&2
	exit 1
fi
pids=()
cat "$tmp/server.log"

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
#   --act-codec C            activations: ms (default), dense, topk-eq,
#                            quant3, or codec:ratio:bits
#   --grad-codec C           gradients: ms-signed (default) or dense
#   --epochs N               (default 2)
#   --train-limit N          training images used (default 12800)
#   --test-limit N           test images used (default 2000)
#   --loss P                 each data plane drops P of the frames it sends
#                            (its fault injection, --tx-drop; seeded by
#                            --seed)
#   --deadline-ms D          data planes send float tensors with a delivery
#                            deadline of D ms (docs/PROTOCOL.md 9.1)
#   --seed N                 training and fault-injection seed (default 1)
#   --json FILE              also write the client's summary there
#   --build DIR              build directory (default build/)
#   --no-deps                do not run scripts/deps.sh --demo
# Everything it starts or creates (processes, sockets, regions, EAL files,
# namespaces, veth pair) is removed on exit, Ctrl-C included.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

link=memif act=ms grad=ms-signed epochs=2 train=12800 test=2000
json="" build=build deps=1 loss=0 deadline=0 seed=1
while [ $# -gt 0 ]; do
	case "$1" in
	--link) link=$2; shift ;;
	--act-codec) act=$2; shift ;;
	--grad-codec) grad=$2; shift ;;
	--epochs) epochs=$2; shift ;;
	--train-limit) train=$2; shift ;;
	--test-limit) test=$2; shift ;;
	--json) json=$2; shift ;;
	--loss) loss=$2; shift ;;
	--deadline-ms) deadline=$2; shift ;;
	--seed) seed=$2; shift ;;
	--build) build=$2; shift ;;
	--no-deps) deps=0 ;;
	-h|--help) sed -n '3,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "run-demo.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
case "$link" in memif|af_packet) ;; *)
	echo "run-demo.sh: --link memif or af_packet" >&2; exit 2 ;;
esac
if [ "$(id -u)" -ne 0 ]; then
	echo "run-demo.sh: run as root (DPDK vdevs, EAL files, namespaces)" >&2
	exit 1
fi

[ "$deps" = 1 ] && scripts/deps.sh --demo
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" >/dev/null
fi
ninja -C "$build" >/dev/null
mw="$root/$build/apps/maskwire/maskwire"
export MASKWIRE_LIB="$root/$build/dataplane/shm/libmaskwire.so"
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
	rm -rf "/var/run/dpdk/${id}a" "/var/run/dpdk/${id}b" \
		"/dev/shm/${id}a" "/dev/shm/${id}b" "$tmp"
}
trap cleanup EXIT
trap 'echo; echo "interrupted"; exit 130' INT TERM

# start_dp SIDE IP PEER VDEV [NETNS]
start_dp() {
	local side=$1 ip=$2 peer=$3 vdev=$4 ns=${5:-}
	local cmd=("$mw" --no-pci --no-huge -m 512 --file-prefix "$id$side"
		"--vdev=$vdev" -- --ip "$ip" --peer "$peer" --shm "$id$side"
		--key "$tmp/demo.key"
		--idle-yield --status-ms 0 --stats "$tmp/dp-$side.json"
		--deadline-ms "$deadline")
	if [ "$loss" != 0 ]; then
		# each side its own loss pattern, both from --seed
		cmd+=(--tx-drop "$loss" --fault-seed "$((seed * 2 + ${#dps[@]}))")
	fi
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

if [ "$link" = memif ]; then
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
	vdev="net_af_packet0,iface=%s,framecnt=8192,qdisc_bypass=1"
	# shellcheck disable=SC2059
	start_dp a 10.77.0.1 10.77.0.2 "$(printf "$vdev" "${id}a")" "${id}a"
	# shellcheck disable=SC2059
	start_dp b 10.77.0.2 10.77.0.1 "$(printf "$vdev" "${id}b")" "${id}b"
fi

echo "maskwire demo: split CNN on Fashion-MNIST ($train training / $test test" \
	"images, $epochs epoch(s)), activations $act, gradients $grad, link $link," \
	"loss $loss, deadline ${deadline} ms"
common=(--epochs "$epochs" --train-limit "$train" --test-limit "$test"
	--act-codec "$act" --grad-codec "$grad" --threads 1
	--loss "$loss" --deadline-ms "$deadline" --seed "$seed")
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

#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# RX-path throughput of maskwire: replay a capture in a loop through
# net_pcap (infinite_rx=1) and report the frames/s taken in and the
# tensors/s reassembled and decoded, from maskwire's JSON stats.
#
# usage: bench/pcap_rx.sh MASKWIRE PCAPTOOL [--seconds S] [--capture NAME]
#                         [--copies N] [--sink] [--check]
#   --capture NAME  a pcap-tests capture (default act-ms-1500); its
#                   manifest gives the receiver's options
#   --copies N      sessions in the loop file (default 3, see below)
#   --sink          also verify every tensor bit-exactly (re-encodes a
#                   reference per tensor: measures the sink, not the RX path)
#   --check         exit 1 unless the run decoded tensors cleanly (used by
#                   the test suite as a smoke run; no timing is checked)
#
# A receiver that sees the same tensors again only counts duplicates, so
# maskwire-pcaptool bench rewrites the capture into N back-to-back
# sessions of the peer, each a restart with an incarnation 2^32/N further
# on: every copy, the first after the last included, is newer in serial
# arithmetic, and each time round the receiver resets and decodes every
# tensor again. Exit 77 when it cannot run (not root, no binary).
set -u

MASKWIRE=${1:-}
PCAPTOOL=${2:-}
[ $# -ge 2 ] && shift 2
SECONDS_RUN=5
NAME=act-ms-1500
COPIES=3
SINK=
CHECK=0
while [ $# -gt 0 ]; do
	case "$1" in
	--seconds) SECONDS_RUN=$2; shift 2 ;;
	--capture) NAME=$2; shift 2 ;;
	--copies) COPIES=$2; shift 2 ;;
	--sink) SINK=--sink; shift ;;
	--check) CHECK=1; shift ;;
	*) echo "pcap_rx.sh: unknown option $1" >&2; exit 2 ;;
	esac
done

skip() { echo "SKIP: $*"; exit 77; }
[ -x "$MASKWIRE" ] || skip "maskwire not built: $MASKWIRE"
[ -x "$PCAPTOOL" ] || skip "maskwire-pcaptool not built: $PCAPTOOL"
[ "$(id -u)" = 0 ] || skip "needs root (DPDK vdevs, EAL runtime files)"
PY=/usr/bin/python3
[ -x $PY ] || PY=python3

HERE=$(cd "$(dirname "$0")" && pwd)
MANIFEST=$HERE/../pcap-tests/captures/$NAME.json
CAPTURE=$HERE/../pcap-tests/captures/$NAME.pcap
[ -f "$MANIFEST" ] || { echo "pcap_rx.sh: no manifest $MANIFEST" >&2; exit 2; }

TMP=$(mktemp -d /tmp/mw-pcap-rx.XXXXXX)
PREFIX=mwbench$$
cleanup() { [ -n "${KEEP:-}" ] || rm -rf "$TMP"; rm -rf "/var/run/dpdk/$PREFIX"; }
trap cleanup EXIT
trap 'exit 1' INT TERM

# The receiver's options, one per line, from the manifest.
$PY -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["replay_args"]))' \
	"$MANIFEST" > "$TMP/args" || exit 2
set --
while IFS= read -r a; do set -- "$@" "$a"; done < "$TMP/args"

"$PCAPTOOL" bench "$CAPTURE" "$TMP/loop.pcap" "$@" --copies "$COPIES" || exit 1

"$MASKWIRE" --no-pci --no-huge -m 512 --file-prefix "$PREFIX" \
	--vdev="net_pcap0,rx_pcap=$TMP/loop.pcap,infinite_rx=1" -- \
	"$@" --plain $SINK --duration "$SECONDS_RUN" --stats "$TMP/stats.json" \
	--status-ms 0 > "$TMP/log" 2>&1
RC=$?
if [ $RC -ne 0 ]; then
	grep -v '^EAL:\|^TELEMETRY:' "$TMP/log" | tail -20
	if grep -q 'net_pcap.*not found\|no ethdev port' "$TMP/log"; then
		skip "DPDK's net_pcap driver is not available"
	fi
	echo "pcap_rx.sh: maskwire exited with $RC"
	exit 1
fi

$PY - "$TMP/stats.json" "$NAME" "$COPIES" "$CHECK" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
name, copies, check = sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
t, n, p = s["transport"], s["net"], s["port"]
el = s["maskwire"]["elapsed_s"]
print("capture %s looped (%d sessions per pass), %.2f s" % (name, copies, el))
print("RX: %d frames in, %.0f frames/s, %.1f Mbit/s of frames" % (
    p["ipackets"], p["ipackets"] / el, p["ibytes"] * 8 / el / 1e6))
print("decoded: %d tensors, %.0f tensors/s, %.1f MB/s of decoded tensors" % (
    t["tensors_delivered"], t["tensors_delivered"] / el,
    n["dense_bytes_rx"] / el / 1e6))
# Frames still arriving after the stop (the data plane polls RX while its
# CLOSE leaves) belong to the session it just closed: wrong_session.
late = t["drop"]["wrong_session"]
print("transport: %d DATA accepted (%d duplicates), %d peer restarts, "
      "%d drops (%d after the stop); net drops %d; rx_nombuf %d, "
      "imissed %d" % (t["data_rx"], t["data_rx_dup"], t["peer_restarts"],
                      t["drops"], late, n["drops_total"], p["rx_nombuf"],
                      p["imissed"]))
if "sink" in s and s["sink"].get("enabled"):
    print("sink: verified %d, mismatched %d" % (s["sink"]["verified"],
                                               s["sink"]["mismatched"]))
if check:
    bad = []
    if t["tensors_delivered"] == 0:
        bad.append("no tensor decoded")
    if t["peer_restarts"] == 0:
        bad.append("the loop never restarted the session")
    if t["drops"] != late or t["data_rx_dup"] or n["drops_total"]:
        bad.append("drops or duplicates in a clean loop")
    if "sink" in s and s["sink"].get("enabled") and s["sink"]["mismatched"]:
        bad.append("the sink found mismatched tensors")
    if bad:
        print("FAIL: " + "; ".join(bad))
        sys.exit(1)
    print("PASS")
EOF

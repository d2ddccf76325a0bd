#!/usr/bin/env bash
# Installs dependencies, builds maskwire, and runs the whole test suite:
#   1. build/      gcc, release, every test (unit, sim, dpdk, pcap, python, bench smoke)
#   2. build-san/  clang with AddressSanitizer + UBSan: unit tests again, the
#                  hostile-client tests against a sanitized data plane (DPDK,
#                  --no-huge), and each libFuzzer target for a bounded time
#                  (MW_FUZZ_SECONDS, default 60)
# Ends with one line "N passed, N failed[, N skipped]".
set -uo pipefail
cd "$(dirname "$0")/.."
# Everything: the python, bench and cli-torch tests use torch, zmq, matplotlib.
MW_DEPS_ALL=1 scripts/deps.sh || { echo "dependency install failed"; echo "0 passed, 1 failed"; exit 1; }

fuzz_s=${MW_FUZZ_SECONDS:-60}
logs=()
status=0

setup() { # dir, extra meson args...
	local dir=$1; shift
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@"
	fi
}

if setup build && ninja -C build; then
	meson test -C build --print-errorlogs --num-processes 2 || status=1
	logs+=(build/meson-logs/testlog.json)
else
	echo "build failed"; status=1; build_failed=1
fi

if command -v clang >/dev/null; then
	if CC=clang setup build-san -Dbuildtype=debugoptimized \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Ddpdk=auto -Dfuzz=enabled -Dfuzz_seconds="$fuzz_s" &&
		ninja -C build-san; then
		meson test -C build-san --print-errorlogs --num-processes 2 \
			--suite unit --suite fuzz --suite hostile || status=1
		logs+=(build-san/meson-logs/testlog.json)
	else
		echo "sanitizer build failed"; status=1; build_failed=1
	fi
fi

/usr/bin/python3 - "${build_failed:-0}" "${logs[@]}" <<'PY'
import json, sys
failed_builds = int(sys.argv[1])
p = f = s = 0
for path in sys.argv[2:]:
    for line in open(path):
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"): p += 1
        elif r == "SKIP": s += 1
        else: f += 1
f += failed_builds
print(f"{p} passed, {f} failed" + (f", {s} skipped" if s else ""))
PY
exit $status

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

# ---- 3. build-tsan/: ThreadSanitizer on the shared-memory channel -----------
# clang with TSan, only the targets of dataplane/shm/tests (rings between
# threads and forked processes, the client library against an in-process
# data plane) and test_shmsource* (one region's source shared by two I/O
# lcores' threads): a small tree, some 10 to 30 seconds on 2 cores.
# handle_sigbus=0: the SIGBUS guard under test installs its own handler, and
# a fault outside the guarded ranges must end as it would without TSan.
if command -v clang >/dev/null; then
	if CC=clang setup build-tsan -Dbuildtype=debugoptimized \
		-Db_sanitize=thread -Db_lundef=false -Ddpdk=disabled \
		-Dfuzz=disabled -Dpcap=disabled &&
		mapfile -t tsan < <(meson introspect --tests build-tsan |
			/usr/bin/python3 -c '
import json, os, sys
for t in json.load(sys.stdin):
    exe = t["cmd"][0]
    if "/dataplane/shm/tests/" in exe or "/test_shmsource" in exe:
        print(t["name"], os.path.relpath(exe, "build-tsan"))') &&
		[ ${#tsan[@]} -gt 0 ] &&
		ninja -C build-tsan "${tsan[@]#* }"; then
		TSAN_OPTIONS="handle_sigbus=0 ${TSAN_OPTIONS:-}" \
			meson test -C build-tsan --no-rebuild --print-errorlogs \
			--num-processes 2 "${tsan[@]%% *}" || status=1
		logs+=(build-tsan/meson-logs/testlog.json)
	else
		echo "thread sanitizer build failed"; status=1; build_failed=1
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

#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The data plane benchmark in one command (see docs/BENCH.md):
#   bench/run.sh [--quick] [--out DIR] [--build DIR] ...
# Builds build-bench if no build directory is given and none exists.
set -e
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
case " $* " in
*" --build "*) ;;
*)
	if [ ! -d "$repo/build-bench" ] && [ ! -d "$repo/build" ]; then
		meson setup "$repo/build-bench" "$repo" >/dev/null
	fi
	for b in "$repo/build-bench" "$repo/build"; do
		if [ -d "$b" ]; then
			ninja -C "$b" >/dev/null
			set -- --build "$b" "$@"
			break
		fi
	done
	;;
esac
exec /usr/bin/python3 "$here/run.py" "$@"

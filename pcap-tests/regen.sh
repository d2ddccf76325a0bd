#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Rebuild pcap-tests/captures: record the base captures over net_memif
# (root, DPDK), derive the seeded variants, write the manifests.
#   pcap-tests/regen.sh BUILD_DIR              record and derive everything
#   pcap-tests/regen.sh BUILD_DIR --no-record  derive from the committed
#                                              recordings (reproduces the
#                                              committed files exactly)
#   pcap-tests/regen.sh BUILD_DIR --only NAME  one capture
set -e
PY=/usr/bin/python3
[ -x $PY ] || PY=python3
exec $PY "$(dirname "$0")/regen.py" "$@"

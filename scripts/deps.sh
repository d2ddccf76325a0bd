#!/usr/bin/env bash
# Installs what maskwire needs from Debian's packages (skips what is present).
# Usage: scripts/deps.sh [--demo]   (--demo, or MW_DEPS_ALL=1, adds PyTorch,
# matplotlib, ZeroMQ and the data set: the demo, the python and bench tests)
set -euo pipefail
pkgs=(meson ninja-build pkg-config gcc clang libclang-rt-14-dev
      dpdk dpdk-dev libdpdk-dev libpcap-dev libssl-dev libipsec-mb-dev
      libgcrypt20-dev
      python3 python3-numpy iproute2 tshark
      libbpf-dev  # bench: headers of the tc BPF loss program
      python3-pip python3-setuptools python3-wheel python3-venv)  # pip install ./python
if [ "${1:-}" = "--demo" ] || [ "${MW_DEPS_ALL:-0}" = 1 ]; then
	pkgs+=(python3-torch python3-matplotlib python3-zmq dataset-fashion-mnist
	       libopenblas0-pthread)
fi
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
		|| missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	echo "installing: ${missing[*]}"
	$SUDO apt-get update -q
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q \
		-o Dpkg::Options::=--force-confold "${missing[@]}"
fi

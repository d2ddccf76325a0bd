/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tc BPF program for bench/run.py: steals a random fraction of the IPv4
 * packets leaving a veth (the kernel here has no netem). Compiled once per
 * rate: clang -O2 -target bpf -DLOSS_PPM=N -c loss.bpf.c -o loss.o, then
 *   tc qdisc add dev X clsact
 *   tc filter add dev X egress bpf da obj loss.o sec classifier
 * TC_ACT_STOLEN (not TC_ACT_SHOT) so the sender sees no local drop.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#ifndef LOSS_PPM
#define LOSS_PPM 0
#endif

SEC("classifier")
int mw_loss(struct __sk_buff *skb)
{
	if (skb->protocol == bpf_htons(ETH_P_IP) &&
	    bpf_get_prandom_u32() % 1000000u < LOSS_PPM)
		return TC_ACT_STOLEN;
	return TC_ACT_OK;
}

char _license[] SEC("license") = "GPL";

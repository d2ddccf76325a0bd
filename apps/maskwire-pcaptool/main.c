/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * maskwire-pcaptool: look at and make maskwire captures.
 *   dump     every maskwire datagram's header fields as the C parsers read
 *            them (TSV; the columns are the Wireshark dissector's fields)
 *   expect   what a maskwire replaying a capture must report (JSON)
 *   mutate   a damaged/hostile variant of a capture, from a seed
 *   bench    a capture that a receiver can replay in a loop
 */
#include <stdio.h>
#include <string.h>

#include "pcaptool.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: maskwire-pcaptool COMMAND ...\n"
		"  dump FILE [--udp-port N]\n"
		"  expect FILE [--frames TSV] [--key FILE] SESSION\n"
		"  mutate IN OUT SESSION [--seed S] [--reorder N] [--dup N]\n"
		"         [--drop N] [--truncate N] [--flip N] [--deep-flip N]\n"
		"         [--recoverable] [--hostile] [--foreign N] [--log TSV]\n"
		"         [--key FILE --replay-hello N --alter-hello N]\n"
		"  bench IN OUT SESSION [--copies N]\n"
		"SESSION: the replaying maskwire's options --ip A --mac M\n"
		"  --peer IP[:PORT] --peer-mac M --incarnation N [--udp-port N]\n"
		"  [--vlan ID] [--window N] [--max-segs N] [--max-tensor B]\n"
		"  [--mtu N]\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "dump"))
		return pt_cmd_dump(argc - 2, argv + 2);
	if (!strcmp(argv[1], "expect"))
		return pt_cmd_expect(argc - 2, argv + 2);
	if (!strcmp(argv[1], "mutate"))
		return pt_cmd_mutate(argc - 2, argv + 2);
	if (!strcmp(argv[1], "bench"))
		return pt_cmd_bench(argc - 2, argv + 2);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}

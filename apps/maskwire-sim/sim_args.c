/* SPDX-License-Identifier: BSD-3-Clause */
/* sim_args.c - maskwire-sim's command line (see sim.h). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static void usage(void)
{
	fputs("usage: maskwire-sim [options]\n"
	      "  --tensors N        training steps: N activations and N labels\n"
	      "                     up, N gradients down (20)\n"
	      "  --shape a,b,..     activation/gradient shape (16,16,8,8)\n"
	      "  --codec NAME       activation codec (ms); --grad-codec (ms-signed)\n"
	      "  --ratio R --bits B sparsification ratio (0.99), mask bits (2)\n"
	      "  --loss P --burst L random loss; L > 1: Gilbert-Elliott bursts\n"
	      "                     of mean length L at the same average loss\n"
	      "  --reorder P --reorder-us U   delay a packet by up to U us\n"
	      "  --dup P --corrupt P          duplicate / flip 1-3 bits\n"
	      "  --delay-us D --bw-gbps G --queue-kb Q   one-way link (50, 10, 1024)\n"
	      "  --mtu M            IP MTU (1500); datagrams are M - 28 bytes\n"
	      "  --link-down-at MS --link-down-for MS   cut both directions\n"
	      "  --restart-at MS    restart the server endpoint (new incarnation)\n"
	      "  --pipeline K       steps in flight (4); --window W (8)\n"
	      "  --max-retries R    retry budget (16); --seed S (1)\n"
	      "  --both-open        the server also sends a tensor at t=0, so\n"
	      "                     both sides open the session at once\n"
	      "  --max-time S       give up after S virtual seconds (3600)\n"
	      "  --stall-prob P --stall-ms X  each endpoint is descheduled\n"
	      "                     (no receive, send or timer) for X ms,\n"
	      "                     P times per ms on average (0, 5)\n"
	      "  --rto-min-us U     minimum RTO (1000); --no-undo: never undo\n"
	      "                     a window reduction that proves spurious\n"
	      "  --cc NAME          congestion controller (reno, rate)\n"
	      "  --tail-copy WHEN   on-loss (default), off or always\n"
	      "  --compact on|off   compact DATA headers (on)\n"
	      "  --sec MODE         encrypt (default), integrity or plain\n"
	      "                     (PROTOCOL.md 12; a key and nonces drawn\n"
	      "                     from --seed: deterministic)\n"
	      "  --deadline-ms D    send activations and gradients with a\n"
	      "                     deadline of D ms (0: reliable; 9.1)\n"
	      "  --flows N          N bulk flows (--tensors tensors of --shape\n"
	      "                     each) through one bottleneck (--bw-gbps,\n"
	      "                     --queue-kb), random --loss after it\n"
	      "  --flow-gap-ms G    flow i starts at i * G (0)\n",
	      stderr);
}

static int parse_shape(const char *arg, struct opts *o)
{
	char *end;
	unsigned nd = 0;

	memset(o->shape, 0, sizeof(o->shape));
	while (*arg) {
		unsigned long v = strtoul(arg, &end, 10);

		if (end == arg || v == 0 || v > UINT32_MAX ||
		    nd == MW_WIRE_MAX_DIMS)
			return -1;
		o->shape[nd++] = (uint32_t)v;
		if (*end == ',')
			end++;
		else if (*end)
			return -1;
		arg = end;
	}
	o->ndim = nd;
	return nd ? 0 : -1;
}

static double num(const char *name, const char *v, double lo, double hi)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (errno || end == v || *end || !(d >= lo && d <= hi)) {
		fprintf(stderr, "maskwire-sim: bad --%s '%s' (%g..%g)\n", name,
			v, lo, hi);
		exit(2);
	}
	return d;
}

void sim_parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "tensors", 1, 0, 't' }, { "shape", 1, 0, 's' },
		{ "loss", 1, 0, 'l' },    { "burst", 1, 0, 'B' },
		{ "reorder", 1, 0, 'r' }, { "reorder-us", 1, 0, 'R' },
		{ "dup", 1, 0, 'd' },     { "corrupt", 1, 0, 'c' },
		{ "seed", 1, 0, 'S' },    { "delay-us", 1, 0, 'D' },
		{ "bw-gbps", 1, 0, 'b' }, { "queue-kb", 1, 0, 'q' },
		{ "mtu", 1, 0, 'm' },     { "codec", 1, 0, 'C' },
		{ "grad-codec", 1, 0, 'G' }, { "ratio", 1, 0, 'x' },
		{ "bits", 1, 0, 'k' },    { "link-down-at", 1, 0, 'a' },
		{ "link-down-for", 1, 0, 'f' }, { "restart-at", 1, 0, 'X' },
		{ "pipeline", 1, 0, 'p' }, { "window", 1, 0, 'w' },
		{ "max-retries", 1, 0, 'M' }, { "max-time", 1, 0, 'T' },
		{ "both-open", 0, 0, 'O' }, { "stall-prob", 1, 0, 'P' },
		{ "stall-ms", 1, 0, 'Z' }, { "rto-min-us", 1, 0, 'U' },
		{ "deadline-ms", 1, 0, 'L' },
		{ "no-undo", 0, 0, 'N' }, { "cc", 1, 0, 1000 }, { "sec", 1, 0, 1003 },
		{ "tail-copy", 1, 0, 1004 }, { "compact", 1, 0, 1005 },
		{ "flows", 1, 0, 1001 }, { "flow-gap-ms", 1, 0, 1002 },
		{ "help", 0, 0, 'h' }, { 0, 0, 0, 0 },
	};
	int c, v;

	memset(o, 0, sizeof(*o));
	o->tensors = 20;
	parse_shape("16,16,8,8", o);
	o->seed = 1;
	o->sec = MW_SEC_ENCRYPT;
	o->tail_copy = MW_TAIL_COPY_ON_LOSS;
	o->compact = 1;
	o->delay_us = 50;
	o->reorder_us = 100;
	o->bw_gbps = 10;
	o->queue_bytes = 1024 * 1024;
	o->mtu = 1500;
	o->codec = MW_CODEC_MS;
	o->grad_codec = MW_CODEC_MS_SIGNED;
	o->ratio = 0.99;
	o->bits = 2;
	o->restart_at_ms = -1;
	o->pipeline = 4;
	o->window = 8;
	o->max_retries = 16;
	o->max_time_s = 3600;
	o->stall_ms = 5;
	o->rto_min_us = 1000;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 't': o->tensors = (unsigned)num("tensors", optarg, 0, 1e7); break;
		case 's':
			if (parse_shape(optarg, o) < 0) {
				fprintf(stderr, "maskwire-sim: bad --shape\n");
				exit(2);
			}
			break;
		case 'l': o->loss = num("loss", optarg, 0, 0.9); break;
		case 'B': o->burst = num("burst", optarg, 0, 1e6); break;
		case 'r': o->reorder = num("reorder", optarg, 0, 1); break;
		case 'R': o->reorder_us = num("reorder-us", optarg, 0, 1e7); break;
		case 'd': o->dup = num("dup", optarg, 0, 1); break;
		case 'c': o->corrupt = num("corrupt", optarg, 0, 1); break;
		case 'S': o->seed = (uint64_t)num("seed", optarg, 0, 1e18); break;
		case 'D': o->delay_us = num("delay-us", optarg, 0, 1e7); break;
		case 'b': o->bw_gbps = num("bw-gbps", optarg, 1e-4, 1e4); break;
		case 'q': o->queue_bytes = (uint64_t)num("queue-kb", optarg, 16, 1e7) * 1024; break;
		case 'm': o->mtu = (unsigned)num("mtu", optarg, 576, 9028); break;
		case 'C':
		case 'G':
			v = mw_codec_from_name(optarg);
			if (v < 0 || v == MW_CODEC_RAW) {
				fprintf(stderr, "maskwire-sim: bad codec '%s'\n", optarg);
				exit(2);
			}
			if (c == 'C')
				o->codec = v;
			else
				o->grad_codec = v;
			break;
		case 'x': o->ratio = num("ratio", optarg, 0, 0.999999); break;
		case 'k': o->bits = (unsigned)num("bits", optarg, 1, 8); break;
		case 'a': o->down_at_ms = num("link-down-at", optarg, 0, 1e9); break;
		case 'f': o->down_for_ms = num("link-down-for", optarg, 0, 1e9); break;
		case 'X': o->restart_at_ms = num("restart-at", optarg, 0, 1e9); break;
		case 'p': o->pipeline = (unsigned)num("pipeline", optarg, 1, 1e6); break;
		case 'w': o->window = (unsigned)num("window", optarg, 2, 4096); break;
		case 'M': o->max_retries = (unsigned)num("max-retries", optarg, 1, 1000); break;
		case 'T': o->max_time_s = num("max-time", optarg, 1e-3, 1e7); break;
		case 'O': o->both_open = 1; break;
		case 'P': o->stall_prob = num("stall-prob", optarg, 0, 1); break;
		case 'Z': o->stall_ms = num("stall-ms", optarg, 0, 1e6); break;
		case 'L':
			o->deadline_ms = (unsigned)num("deadline-ms", optarg, 0, 65535);
			break;
		case 'U': o->rto_min_us = num("rto-min-us", optarg, 1, 1e6); break;
		case 'N': o->no_undo = 1; break;
		case 1000:
			o->cc = mw_cc_from_name(optarg);
			if (o->cc < 0) {
				fprintf(stderr, "--cc: unknown controller '%s'\n",
					optarg);
				exit(2);
			}
			break;
		case 1004:
			o->tail_copy = mw_tail_copy_from_name(optarg);
			if (o->tail_copy < 0) {
				fprintf(stderr, "--tail-copy: '%s' is not off, "
						"on-loss or always\n", optarg);
				exit(2);
			}
			break;
		case 1005:
			if (strcmp(optarg, "on") && strcmp(optarg, "off")) {
				fprintf(stderr, "--compact: '%s' is not on or "
						"off\n", optarg);
				exit(2);
			}
			o->compact = !strcmp(optarg, "on");
			break;
		case 1003:
			for (o->sec = 0; o->sec < MW_SEC_COUNT_; o->sec++)
				if (!strcmp(optarg, mw_sec_mode_name(
							    (unsigned)o->sec)))
					break;
			if (o->sec == MW_SEC_COUNT_) {
				fprintf(stderr, "--sec: unknown mode '%s'\n",
					optarg);
				exit(2);
			}
			break;
		case 1001: o->flows = (unsigned)num("flows", optarg, 1, 64); break;
		case 1002: o->flow_gap_ms = num("flow-gap-ms", optarg, 0, 1e6); break;
		default:
			usage();
			exit(c == 'h' ? 0 : 2);
		}
	}
	if (optind != argc) {
		usage();
		exit(2);
	}
}

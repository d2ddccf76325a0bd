/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mw_capture.h
 * --capture: every frame sent and received, as a classic pcap file
 * (Ethernet link type, microsecond timestamps from the data plane's clock
 * anchored to the wall clock at start). Written with libpcap.
 */
#ifndef MW_CAPTURE_H
#define MW_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include <rte_mbuf.h>

struct mw_capture;

/**
 * Create the file.
 * @param path     file name.
 * @param now_ns   the data plane's clock now (for timestamps).
 * @param err      a message on failure.
 * @return the capture, or NULL.
 */
struct mw_capture *mw_capture_open(const char *path, uint64_t now_ns,
				   char *err, size_t errlen);

/** Append one frame (all segments). */
void mw_capture_mbuf(struct mw_capture *c, const struct rte_mbuf *m,
		     uint64_t now_ns);

/** @return frames written so far. */
uint64_t mw_capture_count(const struct mw_capture *c);

/** Flush and close; NULL is a no-op. */
void mw_capture_close(struct mw_capture *c);

#endif /* MW_CAPTURE_H */

/* SPDX-License-Identifier: BSD-3-Clause */
/* ARP resolution of one peer (see mw_neigh.h). */
#include "mw_neigh.h"

#include <assert.h>
#include <string.h>

void mw_neigh_init(struct mw_neigh *n, const uint8_t *mac, uint64_t retry_ns,
		   uint64_t now)
{
	assert(n);
	memset(n, 0, sizeof(*n));
	n->retry_ns = retry_ns;
	n->next_ns = now;
	if (mac) {
		memcpy(n->mac, mac, 6);
		n->is_static = true;
		n->resolved = true;
	}
}

bool mw_neigh_resolved(const struct mw_neigh *n)
{
	return n->resolved;
}

static bool asking(const struct mw_neigh *n)
{
	return !n->resolved || n->refresh;
}

uint64_t mw_neigh_next(const struct mw_neigh *n)
{
	return asking(n) ? n->next_ns : UINT64_MAX;
}

bool mw_neigh_poll(struct mw_neigh *n, uint64_t now)
{
	if (!asking(n) || now < n->next_ns)
		return false;
	n->next_ns = now + n->retry_ns;
	return true;
}

void mw_neigh_sent(struct mw_neigh *n)
{
	n->requests++;
}

bool mw_neigh_learn(struct mw_neigh *n, const uint8_t mac[6])
{
	if (n->is_static || n->confirmed)
		return false;
	memcpy(n->mac, mac, 6);
	n->resolved = true;
	n->refresh = false;
	return true;
}

bool mw_neigh_confirm(struct mw_neigh *n, const uint8_t mac[6])
{
	bool moved;

	if (n->is_static)
		return false;
	moved = !n->confirmed || !n->resolved || memcmp(n->mac, mac, 6) != 0;
	memcpy(n->mac, mac, 6);
	n->resolved = true;
	n->refresh = false;
	n->confirmed = true;
	return moved;
}

void mw_neigh_refresh(struct mw_neigh *n, uint64_t now)
{
	n->confirmed = false;
	if (n->is_static || !n->resolved || n->refresh)
		return;
	n->refresh = true;
	n->next_ns = now;
}

/* The flow table: both directions find one flow, capacity is a hard limit
 * that evicts nothing, removal keeps spilled entries findable, and idle flows
 * expire by class, oldest first. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "flow_table.h"

static const uint64_t timeouts[SLUICE_FLOW_CLASSES] = {10, 300, 5};

static void v4(uint8_t *a, uint32_t host)
{
	a[0] = 198;
	a[1] = 18;
	a[2] = (uint8_t)(host >> 8);
	a[3] = (uint8_t)host;
}

static void key_of(struct sluice_flow_key *k, uint32_t client, uint16_t cport, uint8_t *side)
{
	uint8_t c[4], s[4];
	v4(c, client);
	v4(s, 1);
	sluice_flow_key_make(k, c, s, cport, 8080, false, side);
}

Test(flow_table, both_directions_make_one_key_and_one_hash)
{
	uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8}, b[16] = {0x20, 0x01, 0x0d, 0xb8, 1};
	struct sluice_flow_key k1, k2;
	uint8_t s1, s2;
	sluice_flow_key_make(&k1, a, b, 40000, 8080, true, &s1);
	sluice_flow_key_make(&k2, b, a, 8080, 40000, true, &s2);
	cr_assert(memcmp(&k1, &k2, sizeof(k1)) == 0);
	cr_assert_eq(sluice_flow_hash(&k1), sluice_flow_hash(&k2));
	cr_assert_neq(s1, s2);
	/* Same address, different ports: still one key, sides by port. */
	sluice_flow_key_make(&k1, a, a, 1, 2, true, &s1);
	sluice_flow_key_make(&k2, a, a, 2, 1, true, &s2);
	cr_assert(memcmp(&k1, &k2, sizeof(k1)) == 0);
	cr_assert_eq(s1, 0);
	cr_assert_eq(s2, 1);
	/* IPv4 and IPv6 with the same leading bytes differ. */
	sluice_flow_key_make(&k1, a, b, 1, 2, false, &s1);
	sluice_flow_key_make(&k2, a, b, 1, 2, true, &s2);
	cr_assert(memcmp(&k1, &k2, sizeof(k1)) != 0);
}

/* Sides go by the addresses as numbers in network order (memcmp's), then
 * ports; the key holds each field where flow_table.h says. */
Test(flow_table, sides_follow_the_addresses_in_network_order_and_the_key_is_laid_out_as_declared)
{
	struct sluice_flow_key k;
	uint8_t side;
	/* 198.18.0.255 < 198.18.1.0, though its last byte is larger. */
	uint8_t lo[4] = {198, 18, 0, 255}, hi[4] = {198, 18, 1, 0};
	sluice_flow_key_make(&k, hi, lo, 8080, 40000, false, &side);
	cr_assert_eq(side, 1);
	cr_assert(memcmp(k.addr[0], lo, 4) == 0 && memcmp(k.addr[1], hi, 4) == 0);
	uint8_t zero[12] = {0};
	cr_assert(memcmp(k.addr[0] + 4, zero, 12) == 0 && memcmp(k.addr[1] + 4, zero, 12) == 0);
	cr_assert_eq(k.port[0], 40000);
	cr_assert_eq(k.port[1], 8080);
	cr_assert_eq(k.ipv6, 0);
	cr_assert(k.pad[0] == 0 && k.pad[1] == 0 && k.pad[2] == 0);
	sluice_flow_key_make(&k, lo, hi, 40000, 8080, false, &side);
	cr_assert_eq(side, 0);

	/* IPv6, differing in the first eight bytes and in the last eight. */
	uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0xff};
	uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 1, 0};
	sluice_flow_key_make(&k, b, a, 443, 50000, true, &side);
	cr_assert_eq(side, 1);
	cr_assert(memcmp(k.addr[0], a, 16) == 0 && memcmp(k.addr[1], b, 16) == 0);
	cr_assert_eq(k.port[0], 50000);
	cr_assert_eq(k.ipv6, 1);
	uint8_t c[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff};
	uint8_t d[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0};
	sluice_flow_key_make(&k, d, c, 443, 50000, true, &side);
	cr_assert_eq(side, 1);
	cr_assert(memcmp(k.addr[0], c, 16) == 0 && memcmp(k.addr[1], d, 16) == 0);
	sluice_flow_key_make(&k, c, d, 50000, 443, true, &side);
	cr_assert_eq(side, 0);
}

Test(flow_table, full_means_refused_and_nothing_evicted)
{
	struct sluice_flow_table t;
	enum { CAP = 1000 };
	cr_assert_eq(sluice_flow_table_init(&t, CAP, timeouts, &sluice_libc_allocator), 0);
	uint32_t idx[CAP];
	for (uint32_t i = 0; i < CAP; i++) {
		struct sluice_flow_key k;
		uint8_t side;
		key_of(&k, 2 + i, (uint16_t)(30000 + i), &side);
		idx[i] =
		    sluice_flow_insert(&t, &k, sluice_flow_hash(&k), SLUICE_FLOW_ESTABLISHED, i);
		cr_assert_neq(idx[i], SLUICE_FLOW_NONE, "flow %u refused below capacity", i);
	}
	struct sluice_flow_key extra;
	uint8_t side;
	key_of(&extra, 5000, 1, &side);
	cr_assert_eq(
	    sluice_flow_insert(&t, &extra, sluice_flow_hash(&extra), SLUICE_FLOW_OPENING, CAP),
	    SLUICE_FLOW_NONE);
	for (uint32_t i = 0; i < CAP; i++) {
		struct sluice_flow_key k;
		key_of(&k, 2 + i, (uint16_t)(30000 + i), &side);
		cr_assert_eq(sluice_flow_lookup(&t, &k, sluice_flow_hash(&k)), idx[i]);
	}
	cr_assert_eq(t.used, CAP);
	sluice_flow_table_fini(&t);
}

/* Many keys forced into few buckets: entries spill, and removing any of them
 * in any order keeps every other one findable. */
Test(flow_table, spilled_entries_stay_findable_through_removals)
{
	struct sluice_flow_table t;
	enum { CAP = 64, N = 60 };
	cr_assert_eq(sluice_flow_table_init(&t, CAP, timeouts, &sluice_libc_allocator), 0);
	struct sluice_flow_key keys[N];
	uint64_t hashes[N];
	uint32_t idx[N];
	bool present[N];
	uint32_t placed = 0;
	for (uint32_t i = 0; i < N; i++) {
		uint8_t side;
		key_of(&keys[i], 7 + i, 1000, &side);
		/* Five home buckets only: the rest must spill. */
		hashes[i] = ((uint64_t)(i + 1) << 32) | (i % 5);
		idx[i] = sluice_flow_insert(&t, &keys[i], hashes[i], SLUICE_FLOW_ESTABLISHED, 0);
		present[i] = idx[i] != SLUICE_FLOW_NONE;
		placed += present[i];
	}
	/* 5 homes with 3 spill buckets each reach 8 buckets: 64 slots. */
	cr_assert_gt(placed, 40);
	srand(99);
	for (int round = 0; round < 200; round++) {
		uint32_t i = (uint32_t)rand() % N;
		if (present[i]) {
			sluice_flow_remove(&t, idx[i]);
			present[i] = false;
		} else {
			idx[i] =
			    sluice_flow_insert(&t, &keys[i], hashes[i], SLUICE_FLOW_ESTABLISHED, 0);
			present[i] = idx[i] != SLUICE_FLOW_NONE;
		}
		for (uint32_t j = 0; j < N; j++) {
			uint32_t got = sluice_flow_lookup(&t, &keys[j], hashes[j]);
			if (present[j])
				cr_assert_eq(got, idx[j], "round %d: key %u lost", round, j);
			else
				cr_assert_eq(got, SLUICE_FLOW_NONE, "round %d: key %u found", round,
					     j);
		}
	}
	sluice_flow_table_fini(&t);
}

Test(flow_table, idle_flows_expire_by_class_oldest_first)
{
	struct sluice_flow_table t;
	cr_assert_eq(sluice_flow_table_init(&t, 16, timeouts, &sluice_libc_allocator), 0);
	uint32_t f[4];
	for (uint32_t i = 0; i < 4; i++) {
		struct sluice_flow_key k;
		uint8_t side;
		key_of(&k, 2 + i, 1, &side);
		f[i] = sluice_flow_insert(&t, &k, sluice_flow_hash(&k), SLUICE_FLOW_OPENING, i);
	}
	/* f1 completes its handshake, f2 closes, f0 and f3 stay opening. */
	sluice_flow_touch(&t, f[1], SLUICE_FLOW_ESTABLISHED, 4);
	sluice_flow_touch(&t, f[2], SLUICE_FLOW_CLOSING, 5);
	uint32_t out[8];
	cr_assert_eq(sluice_flow_expired(&t, 10, out, 8), 0);
	/* At 11: f0 opened at 0 is past 10, f2 closed at 5 past 5. At 14: f3
	 * opened at 3 too. */
	cr_assert_eq(sluice_flow_expired(&t, 11, out, 8), 2);
	cr_assert_eq(out[0], f[0]);
	cr_assert_eq(out[1], f[2]);
	cr_assert_eq(sluice_flow_expired(&t, 14, out, 8), 3);
	cr_assert_eq(out[0], f[0]);
	cr_assert_eq(out[1], f[3]);
	cr_assert_eq(out[2], f[2]);
	cr_assert_eq(sluice_flow_expired(&t, 14, out, 1), 1); /* bounded */
	/* Touching moves a flow to the end: f3 seen at 12 outlives f0. */
	sluice_flow_touch(&t, f[3], SLUICE_FLOW_OPENING, 12);
	cr_assert_eq(sluice_flow_expired(&t, 21, out, 8), 2);
	cr_assert_eq(out[0], f[0]);
	cr_assert_eq(out[1], f[2]);
	sluice_flow_remove(&t, f[0]);
	sluice_flow_remove(&t, f[0]); /* twice is harmless */
	cr_assert_eq(t.used, 3);
	cr_assert_eq(sluice_flow_expired(&t, 400, out, 8), 3);
	sluice_flow_table_fini(&t);
}

Test(flow_table, bad_capacities_are_refused)
{
	struct sluice_flow_table t;
	cr_assert_eq(sluice_flow_table_init(&t, 0, timeouts, &sluice_libc_allocator), -1);
	cr_assert_eq(sluice_flow_table_init(&t, (1u << 28) + 1, timeouts, &sluice_libc_allocator),
		     -1);
	cr_assert_lt(sluice_flow_table_bytes_per_flow(), 128);
}

#include "message_table.h"

#include <string.h>

#include "wire_format.h"

/* Outcomes and spans were checked with `sluice-pack test
 * patterns/rules/default.yaml TEXT`; soak_packs_check() checks them again
 * against the packs of every run. The masked texts are written out by hand:
 * the collector compares bytes with them, not with anything Sluice computes. */
static const struct soak_text table[] = {
    /* pass */
    {"clean-zh", "今天下午三点在会议室开会，别迟到", NULL, SOAK_PASS, 0, 180},
    {"clean-en", "see you at the station at nine, bring the tickets", NULL, SOAK_PASS, 0, 150},
    {"clean-long",
     "周末我们一起去爬山吧，早上七点在地铁站集合，记得带水和午饭。The forecast says sunny "
     "with a light breeze, so wear a hat, bring sunscreen and call the group if you are late.",
     NULL, SOAK_PASS, 0, 100},
    {"clean-digits", "order 2024-11-23 ref 4521 confirmed, total 88.50", NULL, SOAK_PASS, 0, 70},
    /* mask: the mask covers whole code points, so a masked Chinese character
     * is three '*' */
    {"phone-zh", "电话 13812345678", "电话 ***********", SOAK_MASK, 1, 60},
    {"phone-en", "call me on 15987654321 after work", "call me on *********** after work",
     SOAK_MASK, 1, 40},
    {"wechat-id", "加微信 abc_12345 详聊", "加**************** 详聊", SOAK_MASK, 1, 40},
    {"email", "mail me at li.lei@example.com today", "mail me at ****************** today",
     SOAK_MASK, 1, 40},
    /* a flag rule and a mask rule: mask wins, and only the masked flag is set */
    {"flag-and-mask", "加我 13812345678", "加我 ***********", SOAK_MASK, 2, 40},
    /* flag */
    {"flag-zh", "详情请私聊，谢谢", NULL, SOAK_FLAG, 1, 60},
    {"flag-ai", "As an AI language model I cannot do that", NULL, SOAK_FLAG, 1, 25},
    {"flag-collectible", "数字藏品 限量款 高价转卖", NULL, SOAK_FLAG, 1, 15},
    /* block */
    {"drug-sale", "出售冰毒，货到付款", NULL, SOAK_BLOCK, 1, 60},
    {"drug-sale-mixed", "有K粉，加我 13900001111", NULL, SOAK_BLOCK, 3, 40},
    {"gambling", "best ONLINE   casino bonus today", NULL, SOAK_BLOCK, 1, 40},
    /* invalid UTF-8: a stray byte, a sequence cut short, an overlong form */
    {"utf8-stray", "bad bytes \xff\xfe here", NULL, SOAK_BAD_UTF8, 0, 20},
    {"utf8-cut", "cut short \xe4\xb8", NULL, SOAK_BAD_UTF8, 0, 10},
    {"utf8-overlong", "\xc0\xaf slash", NULL, SOAK_BAD_UTF8, 0, 10},
};

#define TABLE_LEN (sizeof(table) / sizeof(table[0]))
#define PER_MILLE 1000

/* Shares of datagram shapes, per 1000. */
#define SHARE_IPV6	      200
#define SHARE_VLAN	      100
#define SHARE_NO_UDP_CHECKSUM 100 /* of IPv4 datagrams */
#define SHARE_BAD_MAGIC	      10

/* Salts keep the draws for one number independent of each other. */
#define SALT_TEXT  0x736f616b74657874ull
#define SALT_SHAPE 0x736f616b73686170ull
#define SALT_CHECK 0x736f616b63686563ull

static uint8_t text_by_mille[PER_MILLE];

/* splitmix64's finaliser: every bit of x reaches every bit of the result. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

void soak_table_init(void)
{
	unsigned at = 0;
	for (size_t i = 0; i < TABLE_LEN; i++) {
		for (unsigned k = 0; k < table[i].weight && at < PER_MILLE; k++)
			text_by_mille[at++] = (uint8_t)i;
	}
	/* The weights add up to 1000; should one be edited, the last text takes
	 * the rest rather than leaving draws without a text. */
	while (at < PER_MILLE)
		text_by_mille[at++] = (uint8_t)(TABLE_LEN - 1);
}

size_t soak_text_count(void)
{
	return TABLE_LEN;
}

const struct soak_text *soak_text_at(size_t index)
{
	return index < TABLE_LEN ? &table[index] : NULL;
}

size_t soak_text_index_of(uint64_t seq)
{
	return text_by_mille[mix(seq ^ SALT_TEXT) % PER_MILLE];
}

const struct soak_text *soak_text_of(uint64_t seq)
{
	return &table[soak_text_index_of(seq)];
}

void soak_shape_of(uint64_t datagram, struct soak_shape *shape)
{
	uint64_t h = mix(datagram ^ SALT_SHAPE);
	memset(shape, 0, sizeof(*shape));
	shape->frames = 1 + (unsigned)(h % SOAK_MAX_FRAMES);
	h /= SOAK_MAX_FRAMES;
	shape->ipv6 = h % PER_MILLE < SHARE_IPV6;
	h /= PER_MILLE;
	shape->vlan = h % PER_MILLE < SHARE_VLAN;
	h /= PER_MILLE;
	shape->vlan_id = shape->vlan ? (uint16_t)(1 + h % 4094) : 0;
	h /= 4094;
	shape->no_udp_checksum = !shape->ipv6 && h % PER_MILLE < SHARE_NO_UDP_CHECKSUM;
	h /= PER_MILLE;
	shape->bad_magic = h % PER_MILLE < SHARE_BAD_MAGIC;
	h /= PER_MILLE;
	shape->bad_frame = shape->bad_magic ? (unsigned)(h % shape->frames) : 0;
}

uint64_t soak_user_id(uint64_t msg_seq, unsigned index, unsigned frames)
{
	uint64_t check = mix(msg_seq ^ SALT_CHECK) >> 32;
	return check << 32 | (uint64_t)(frames & 0xff) << 8 | (index & 0xff);
}

bool soak_user_id_split(uint64_t user_id, uint64_t msg_seq, unsigned *index, unsigned *frames)
{
	*index = (unsigned)(user_id & 0xff);
	*frames = (unsigned)((user_id >> 8) & 0xff);
	return (user_id >> 32) == (mix(msg_seq ^ SALT_CHECK) >> 32) &&
	       (user_id & 0xffff0000ull) == 0;
}

uint8_t soak_expected_flags(enum soak_outcome outcome)
{
	switch (outcome) {
	case SOAK_FLAG:
		return SLUICE_WIRE_FLAG_FLAGGED;
	case SOAK_MASK:
		return SLUICE_WIRE_FLAG_MASKED;
	default:
		return 0;
	}
}

const char *soak_outcome_name(enum soak_outcome outcome)
{
	static const char *const names[SOAK_OUTCOME_COUNT] = {
	    [SOAK_PASS] = "pass",
	    [SOAK_FLAG] = "flag",
	    [SOAK_MASK] = "mask",
	    [SOAK_BLOCK] = "block",
	    [SOAK_BAD_UTF8] = "invalid_utf8",
	};
	return (unsigned)outcome < SOAK_OUTCOME_COUNT ? names[outcome] : "?";
}

size_t soak_max_payload(void)
{
	size_t longest = 0;
	for (size_t i = 0; i < TABLE_LEN; i++) {
		size_t len = strlen(table[i].text);
		longest = len > longest ? len : longest;
	}
	return SOAK_MAX_FRAMES * (SLUICE_WIRE_HEADER_LEN + longest);
}

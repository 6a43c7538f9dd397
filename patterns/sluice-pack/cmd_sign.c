/* sluice-pack sign, verify and keygen: who vouches for a pack.
 *
 * The cryptography and the policy are the library's (pack_sign.h), so the
 * gateway and this tool can never disagree about what a valid signature is
 * or how many a pack needs. This file adds what a person at a terminal
 * needs: refusing to overwrite a private key, co-signing by default, naming
 * every key that signed, and exit statuses a release job can trust (verify
 * exits 0 only for a pack that meets the policy given).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pack_sign.h"
#include "cli.h"

#define MAX_PUBKEYS 32

static void usage_sign(FILE *f)
{
	fprintf(f,
		"usage: %s sign PACK --key PRIVATE.pem [-o OUT.pack] [--replace] [--json]\n"
		"\n"
		"Signs a compiled pack with a private key (from 'sluice-pack keygen'). The\n"
		"signature is added to those already on the pack, so a second person\n"
		"co-signs by signing the signed pack (order does not matter); signing again\n"
		"with a key that already signed changes nothing. A pack holds at most %d\n"
		"signatures. The signed pack is written to OUT.pack, or replaces PACK.\n"
		"Gateways load it when enough of their trusted keys signed it.\n"
		"\n"
		"  -k, --key FILE      the private key (PEM)\n"
		"  -o, --output FILE   where to write the signed pack (default: PACK)\n"
		"      --replace       drop the signatures already there: this key's alone\n"
		"      --json          one JSON document instead of text\n"
		"  -h, --help          this help\n"
		"\n"
		"Exit status: 0 signed, 1 the pack or key is invalid or the pack holds %d\n"
		"signatures already, 2 usage error or a file that cannot be read or written.\n",
		sp_prog, SLUICE_PACK_MAX_SIGS, SLUICE_PACK_MAX_SIGS);
}

static void usage_verify(FILE *f)
{
	fprintf(f,
		"usage: %s verify PACK --pubkey PUBLIC.pem [--pubkey ...]\n"
		"                   [--signatures-required N] [--revoked-key KEY ...] [--json]\n"
		"\n"
		"Checks that PACK is intact and meets the policy a gateway with the same\n"
		"options applies: no signature by a revoked key, every signature by a\n"
		"trusted key valid, and at least N trusted keys among the signers.\n"
		"Signatures by other keys are listed but neither checked nor counted.\n"
		"Prints every signature (key id, trusted/unknown/revoked,\n"
		"valid/invalid/unchecked), then the result.\n"
		"\n"
		"  -k, --pubkey FILE             a trusted public key (PEM); repeat for several\n"
		"  -n, --signatures-required N   trusted keys that must have signed (1 to %d,\n"
		"                                at most the keys given; default 1)\n"
		"  -r, --revoked-key KEY         a revoked key: its id (64 hex digits) or a PEM\n"
		"                                file of either half; repeatable\n"
		"      --json                    one JSON document instead of text\n"
		"  -h, --help                    this help\n"
		"\n"
		"Exit status: 0 the pack meets the policy, 1 unsigned, altered, too few\n"
		"trusted signatures or signed by a revoked key, 2 usage error (keys that\n"
		"contradict each other included) or a file that cannot be read.\n",
		sp_prog, SLUICE_PACK_MAX_SIGS);
}

static void usage_keygen(FILE *f)
{
	fprintf(f,
		"usage: %s keygen NAME [--force] [--json]\n"
		"\n"
		"Makes a new signing key pair: NAME.key, the private key (mode 0600: keep it\n"
		"secret, it signs packs), and NAME.pub, the public key that gateways and\n"
		"'sluice-pack verify' trust. Existing files are never overwritten unless\n"
		"--force is given.\n"
		"\n"
		"  -f, --force   replace NAME.key and NAME.pub if they exist\n"
		"      --json    one JSON document instead of text\n"
		"  -h, --help    this help\n"
		"\n"
		"Exit status: 0 written, 2 usage error or a file that cannot be written.\n",
		sp_prog);
}

static int finish(bool json, struct sluice_json_writer *j, int status, const char *err)
{
	if (status != SP_EXIT_OK && err && err[0])
		fprintf(stderr, "%s\n", err);
	if (json)
		return sp_json_finish(j, status, status != SP_EXIT_OK ? err : NULL);
	return status;
}

int sp_cmd_sign(int argc, char **argv)
{
	const char *key = NULL, *output = NULL, *pack;
	bool replace = false;
	const struct sp_option opts[] = {
	    {.name = "key", .short_name = 'k', .value = &key},
	    {.name = "output", .short_name = 'o', .value = &output},
	    {.name = "replace", .flag = &replace},
	    {0},
	};
	struct sp_args args = {.cmd = "sluice-pack sign", .usage = usage_sign};
	char err[SP_ERR_LEN] = "", key_id[65] = "";
	struct sluice_sign_result done;
	bool json;
	struct sluice_json_writer j;
	int status = sp_parse_options(&args, opts, argc, argv);

	if (status != SP_PARSED)
		return status;
	if (args.count != 1)
		return sp_usage_error(args.cmd, "need exactly one pack");
	if (!key)
		return sp_usage_error(args.cmd, "need --key PRIVATE.pem");
	pack = args.operands[0];
	json = args.json;
	if (!output)
		output = pack;
	if (json)
		sp_json_begin(&j, stdout, "sign");
	if (sp_check_readable(pack, err, sizeof(err)) != 0 ||
	    sp_check_readable(key, err, sizeof(err)) != 0)
		return finish(json, &j, SP_EXIT_USAGE, err);
	if (!sp_is_pack_file(pack)) {
		snprintf(err, sizeof(err),
			 "%s: not a compiled pack; run 'sluice-pack compile' first, then sign "
			 "the pack",
			 pack);
		return finish(json, &j, SP_EXIT_FAIL, err);
	}
	if (sluice_key_id(key, key_id, err, sizeof(err)) != 0 ||
	    sluice_pack_sign(pack, key, output, replace ? SLUICE_SIGN_REPLACE : SLUICE_SIGN_ADD,
			     &done, err, sizeof(err)) != 0)
		return finish(json, &j, SP_EXIT_FAIL, err);
	if (json) {
		sluice_jw_string(&j, "pack", pack);
		sluice_jw_string(&j, "key", key);
		sluice_jw_string(&j, "key_id", key_id);
		sluice_jw_string(&j, "output", output);
		sluice_jw_uint(&j, "signatures", done.signatures);
		sluice_jw_bool(&j, "already_signed", done.already_signed);
		sluice_jw_bool(&j, "replaced", replace);
	} else {
		printf("%s: %s with key %s (%s)%s -> %s, %zu signature%s\n", pack,
		       done.already_signed ? "already signed" : "signed", key_id, key,
		       replace ? ", replacing the signatures there" : "", output, done.signatures,
		       done.signatures == 1 ? "" : "s");
	}
	return finish(json, &j, SP_EXIT_OK, NULL);
}

/* The keys and policy verify was given, in order. */
struct verify_policy {
	const char *pubkey[MAX_PUBKEYS];
	size_t pubkeys;
	const char *revoked[MAX_PUBKEYS];
	size_t revoked_count;
	unsigned required;
};

static int add_key_arg(const char *cmd, const char *option, const char *arg, const char **list,
		       size_t *count)
{
	if (*count == MAX_PUBKEYS)
		return sp_usage_error(cmd, "at most %d --%s", MAX_PUBKEYS, option);
	list[(*count)++] = arg;
	return 0;
}

static int add_pubkey(const char *cmd, const char *arg, void *target)
{
	struct verify_policy *p = target;
	return add_key_arg(cmd, "pubkey", arg, p->pubkey, &p->pubkeys);
}

static int add_revoked(const char *cmd, const char *arg, void *target)
{
	struct verify_policy *p = target;
	return add_key_arg(cmd, "revoked-key", arg, p->revoked, &p->revoked_count);
}

static int parse_required(const char *cmd, const char *arg, void *target)
{
	struct verify_policy *p = target;
	char *end;
	long v = strtol(arg, &end, 10);

	if (*arg == '\0' || *end != '\0' || v < 1 || v > SLUICE_PACK_MAX_SIGS)
		return sp_usage_error(cmd, "--signatures-required: '%s' is not a number 1-%d", arg,
				      SLUICE_PACK_MAX_SIGS);
	p->required = (unsigned)v;
	return 0;
}

/* The trust the policy describes, or NULL with the exit status in *status. */
static struct sluice_trust *policy_trust(const char *pack, const struct verify_policy *p,
					 int *status, char *err, size_t err_len)
{
	/* A signature check that "passes" with no keys would be worse than none. */
	struct sluice_trust *trust = sluice_trust_new(true);

	*status = SP_EXIT_FAIL;
	if (!trust) {
		snprintf(err, err_len, "%s: out of memory", pack);
		return NULL;
	}
	for (size_t i = 0; i < p->pubkeys; i++) {
		if (sp_check_readable(p->pubkey[i], err, err_len) != 0) {
			*status = SP_EXIT_USAGE;
			goto fail;
		}
		if (sluice_trust_add_key(trust, p->pubkey[i], err, err_len) != 0)
			goto fail;
	}
	*status = SP_EXIT_USAGE;
	for (size_t i = 0; i < p->revoked_count; i++)
		if (sluice_trust_revoke(trust, p->revoked[i], err, err_len) != 0)
			goto fail;
	if (sluice_trust_set_required(trust, p->required, err, err_len) != 0) {
		char why[512];
		snprintf(why, sizeof(why), "%.*s", (int)sizeof(why) - 1, err); /* cut to fit */
		snprintf(err, err_len, "--signatures-required %u: %s", p->required, why);
		goto fail;
	}
	return trust;
fail:
	sluice_trust_free(trust);
	return NULL;
}

static void print_report(bool json, struct sluice_json_writer *j, const char *pack,
			 const struct sluice_verify_report *r, bool verified)
{
	if (json) {
		sluice_jw_string(j, "pack", pack);
		sluice_jw_bool(j, "verified", verified);
		/* The first signer, as before packs had several. */
		sluice_jw_string(j, "key_id", r->count ? r->sigs[0].key_id : NULL);
		sluice_jw_array(j, "signatures");
		for (size_t i = 0; i < r->count; i++) {
			sluice_jw_object(j, NULL);
			sluice_jw_string(j, "key_id", r->sigs[i].key_id);
			sluice_jw_string(j, "key", sluice_sig_key_name(r->sigs[i].key));
			sluice_jw_string(j, "signature", sluice_sig_check_name(r->sigs[i].check));
			sluice_jw_end(j);
		}
		sluice_jw_end(j);
		sluice_jw_uint(j, "valid_trusted", r->valid_trusted);
		sluice_jw_uint(j, "required", r->required);
		return;
	}
	for (size_t i = 0; i < r->count; i++)
		printf("%s: signature %zu of %zu: key %s, %s, %s\n", pack, i + 1, r->count,
		       r->sigs[i].key_id, sluice_sig_key_name(r->sigs[i].key),
		       sluice_sig_check_name(r->sigs[i].check));
	if (verified)
		printf("%s: OK, %zu valid signature%s by trusted keys, %u required\n", pack,
		       r->valid_trusted, r->valid_trusted == 1 ? "" : "s", r->required);
}

int sp_cmd_verify(int argc, char **argv)
{
	struct verify_policy policy = {.required = 1};
	const struct sp_option opts[] = {
	    {.name = "pubkey", .short_name = 'k', .parse = add_pubkey, .target = &policy},
	    {.name = "revoked-key", .short_name = 'r', .parse = add_revoked, .target = &policy},
	    {.name = "signatures-required",
	     .short_name = 'n',
	     .parse = parse_required,
	     .target = &policy},
	    {0},
	};
	struct sp_args args = {.cmd = "sluice-pack verify", .usage = usage_verify};
	struct sluice_verify_report report;
	struct sluice_trust *trust;
	char err[SP_ERR_LEN] = "";
	bool json;
	struct sluice_json_writer j;
	const char *pack;
	int status = sp_parse_options(&args, opts, argc, argv);

	if (status != SP_PARSED)
		return status;
	if (args.count != 1)
		return sp_usage_error(args.cmd, "need exactly one pack");
	if (policy.pubkeys == 0)
		return sp_usage_error(args.cmd, "need at least one --pubkey PUBLIC.pem");
	pack = args.operands[0];
	json = args.json;
	if (json)
		sp_json_begin(&j, stdout, "verify");
	if (sp_check_readable(pack, err, sizeof(err)) != 0)
		return finish(json, &j, SP_EXIT_USAGE, err);
	trust = policy_trust(pack, &policy, &status, err, sizeof(err));
	if (!trust)
		return finish(json, &j, status, err);
	status = sluice_pack_verify(pack, trust, &report, err, sizeof(err)) == 0 ? SP_EXIT_OK
										 : SP_EXIT_FAIL;
	sluice_trust_free(trust);
	print_report(json, &j, pack, &report, status == SP_EXIT_OK);
	return finish(json, &j, status, err);
}

int sp_cmd_keygen(int argc, char **argv)
{
	bool json, force = false;
	const struct sp_option opts[] = {
	    {.name = "force", .short_name = 'f', .flag = &force},
	    {0},
	};
	struct sp_args args = {.cmd = "sluice-pack keygen", .usage = usage_keygen};
	char *priv = NULL, *pub = NULL;
	char err[SP_ERR_LEN] = "", key_id[65] = "";
	struct sluice_json_writer j;
	int status = sp_parse_options(&args, opts, argc, argv);

	if (status != SP_PARSED)
		return status;
	if (args.count != 1 || args.operands[0][0] == '\0')
		return sp_usage_error(args.cmd, "need exactly one NAME");
	const char *name = args.operands[0];
	status = SP_EXIT_OK;
	json = args.json;
	if (asprintf(&priv, "%s.key", name) < 0 || asprintf(&pub, "%s.pub", name) < 0) {
		fprintf(stderr, "%s: out of memory\n", name);
		free(priv);
		return SP_EXIT_USAGE;
	}
	if (json)
		sp_json_begin(&j, stdout, "keygen");
	/* A private key overwritten by accident cannot be recovered, and every
	 * pack it signed stops verifying. */
	if (!force && (access(priv, F_OK) == 0 || access(pub, F_OK) == 0)) {
		snprintf(err, sizeof(err),
			 "%s: already exists; not overwriting a key (use --force)",
			 access(priv, F_OK) == 0 ? priv : pub);
		status = SP_EXIT_USAGE;
	} else if (sluice_keygen(priv, pub, err, sizeof(err)) != 0 ||
		   sluice_key_id(pub, key_id, err, sizeof(err)) != 0) {
		status = SP_EXIT_USAGE;
	} else if (json) {
		sluice_jw_string(&j, "private_key", priv);
		sluice_jw_string(&j, "public_key", pub);
		sluice_jw_string(&j, "key_id", key_id);
	} else {
		printf("wrote %s (private: keep it secret) and %s (public), key id %s\n", priv, pub,
		       key_id);
	}
	free(priv);
	free(pub);
	return finish(json, &j, status, err);
}

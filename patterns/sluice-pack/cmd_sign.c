/* sluice-pack sign, verify and keygen: who vouches for a pack.
 *
 * The cryptography is the library's (pack_sign.h), so the gateway and this
 * tool can never disagree about what a valid signature is. This file adds
 * what a person at a terminal needs: refusing to overwrite a private key,
 * naming the key that signed, and exit statuses a release job can trust
 * (verify exits 0 only for a pack signed by one of the keys given).
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
		"usage: %s sign PACK --key PRIVATE.pem [-o OUT.pack] [--json]\n"
		"\n"
		"Signs a compiled pack with a private key (from 'sluice-pack keygen'). The\n"
		"signed pack is written to OUT.pack, or replaces PACK. Gateways configured\n"
		"with the matching public key load only packs signed this way.\n"
		"\n"
		"  -k, --key FILE      the private key (PEM)\n"
		"  -o, --output FILE   where to write the signed pack (default: PACK)\n"
		"      --json          one JSON document instead of text\n"
		"  -h, --help          this help\n"
		"\n"
		"Exit status: 0 signed, 1 the pack or key is invalid, 2 usage error or a\n"
		"file that cannot be read or written.\n",
		sp_prog);
}

static void usage_verify(FILE *f)
{
	fprintf(f,
		"usage: %s verify PACK --pubkey PUBLIC.pem [--pubkey ...] [--json]\n"
		"\n"
		"Checks that PACK is intact and signed by one of the given public keys, and\n"
		"prints the id (SHA-256) of the key that signed it.\n"
		"\n"
		"  -k, --pubkey FILE   a trusted public key (PEM); repeat for several\n"
		"      --json          one JSON document instead of text\n"
		"  -h, --help          this help\n"
		"\n"
		"Exit status: 0 signed by a trusted key, 1 unsigned, altered, or signed by\n"
		"another key, 2 usage error or a file that cannot be read.\n",
		sp_prog);
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
	const struct sp_option opts[] = {
	    {.name = "key", .short_name = 'k', .value = &key},
	    {.name = "output", .short_name = 'o', .value = &output},
	    {0},
	};
	struct sp_args args = {.cmd = "sluice-pack sign", .usage = usage_sign};
	char err[SP_ERR_LEN] = "", key_id[65] = "";
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
	    sluice_pack_sign(pack, key, output, err, sizeof(err)) != 0)
		return finish(json, &j, SP_EXIT_FAIL, err);
	if (json) {
		sluice_jw_string(&j, "pack", pack);
		sluice_jw_string(&j, "key", key);
		sluice_jw_string(&j, "key_id", key_id);
		sluice_jw_string(&j, "output", output);
	} else {
		printf("%s: signed with key %s (%s) -> %s\n", pack, key_id, key, output);
	}
	return finish(json, &j, SP_EXIT_OK, NULL);
}

/* The trusted keys verify was given, in order. */
struct pubkeys {
	const char *path[MAX_PUBKEYS];
	size_t count;
};

static int add_pubkey(const char *cmd, const char *arg, void *keys)
{
	struct pubkeys *k = keys;

	if (k->count == MAX_PUBKEYS)
		return sp_usage_error(cmd, "at most %d --pubkey", MAX_PUBKEYS);
	k->path[k->count++] = arg;
	return 0;
}

int sp_cmd_verify(int argc, char **argv)
{
	struct pubkeys keys = {0};
	const struct sp_option opts[] = {
	    {.name = "pubkey", .short_name = 'k', .parse = add_pubkey, .target = &keys},
	    {0},
	};
	struct sp_args args = {.cmd = "sluice-pack verify", .usage = usage_verify};
	struct sluice_trust *trust = NULL;
	char err[SP_ERR_LEN] = "", key_id[65] = "";
	bool json;
	struct sluice_json_writer j;
	const char *pack;
	int status = sp_parse_options(&args, opts, argc, argv);

	if (status != SP_PARSED)
		return status;
	if (args.count != 1)
		return sp_usage_error(args.cmd, "need exactly one pack");
	if (keys.count == 0)
		return sp_usage_error(args.cmd, "need at least one --pubkey PUBLIC.pem");
	pack = args.operands[0];
	json = args.json;
	if (json)
		sp_json_begin(&j, stdout, "verify");
	if (sp_check_readable(pack, err, sizeof(err)) != 0)
		return finish(json, &j, SP_EXIT_USAGE, err);
	/* A signature check that "passes" with no keys would be worse than none. */
	trust = sluice_trust_new(true);
	if (!trust) {
		snprintf(err, sizeof(err), "%s: out of memory", pack);
		return finish(json, &j, SP_EXIT_FAIL, err);
	}
	for (size_t i = 0; i < keys.count; i++) {
		if (sp_check_readable(keys.path[i], err, sizeof(err)) != 0) {
			sluice_trust_free(trust);
			return finish(json, &j, SP_EXIT_USAGE, err);
		}
		if (sluice_trust_add_key(trust, keys.path[i], err, sizeof(err)) != 0) {
			sluice_trust_free(trust);
			return finish(json, &j, SP_EXIT_FAIL, err);
		}
	}
	status = sluice_pack_verify(pack, trust, key_id, err, sizeof(err)) == 0 ? SP_EXIT_OK
										: SP_EXIT_FAIL;
	sluice_trust_free(trust);
	if (json) {
		sluice_jw_string(&j, "pack", pack);
		sluice_jw_bool(&j, "verified", status == SP_EXIT_OK);
		sluice_jw_string(&j, "key_id", key_id[0] ? key_id : NULL);
	} else if (status == SP_EXIT_OK) {
		printf("%s: OK, signed by key %s\n", pack, key_id);
	}
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

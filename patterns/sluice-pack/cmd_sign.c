/* sluice-pack sign, verify and keygen: who vouches for a pack.
 *
 * The cryptography is the library's (pack_sign.h), so the gateway and this
 * tool can never disagree about what a valid signature is. This file adds
 * what a person at a terminal needs: refusing to overwrite a private key,
 * naming the key that signed, and exit statuses a release job can trust
 * (verify exits 0 only for a pack signed by one of the keys given).
 */
#include <getopt.h>
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
	enum { OPT_JSON = 256 };
	static const struct option opts[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"output", required_argument, NULL, 'o'},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "sluice-pack sign";
	const char *key = NULL, *output = NULL, *pack;
	char err[SP_ERR_LEN] = "", key_id[65] = "";
	bool json = false;
	struct sluice_json_writer j;
	int c;

	while ((c = getopt_long(argc, argv, "k:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			key = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
			usage_sign(stdout);
			return SP_EXIT_OK;
		default:
			return sp_bad_option(cmd);
		}
	}
	if (optind != argc - 1)
		return sp_usage_error(cmd, "need exactly one pack");
	if (!key)
		return sp_usage_error(cmd, "need --key PRIVATE.pem");
	pack = argv[optind];
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

int sp_cmd_verify(int argc, char **argv)
{
	enum { OPT_JSON = 256 };
	static const struct option opts[] = {
	    {"pubkey", required_argument, NULL, 'k'},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "sluice-pack verify";
	const char *keys[MAX_PUBKEYS];
	struct sluice_trust *trust = NULL;
	char err[SP_ERR_LEN] = "", key_id[65] = "";
	size_t nkeys = 0;
	bool json = false;
	struct sluice_json_writer j;
	const char *pack;
	int c, status;

	while ((c = getopt_long(argc, argv, "k:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			if (nkeys == MAX_PUBKEYS)
				return sp_usage_error(cmd, "at most %d --pubkey", MAX_PUBKEYS);
			keys[nkeys++] = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
			usage_verify(stdout);
			return SP_EXIT_OK;
		default:
			return sp_bad_option(cmd);
		}
	}
	if (optind != argc - 1)
		return sp_usage_error(cmd, "need exactly one pack");
	if (nkeys == 0)
		return sp_usage_error(cmd, "need at least one --pubkey PUBLIC.pem");
	pack = argv[optind];
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
	for (size_t i = 0; i < nkeys; i++) {
		if (sp_check_readable(keys[i], err, sizeof(err)) != 0) {
			sluice_trust_free(trust);
			return finish(json, &j, SP_EXIT_USAGE, err);
		}
		if (sluice_trust_add_key(trust, keys[i], err, sizeof(err)) != 0) {
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
	enum { OPT_JSON = 256 };
	static const struct option opts[] = {
	    {"force", no_argument, NULL, 'f'},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = "sluice-pack keygen";
	char *priv = NULL, *pub = NULL;
	char err[SP_ERR_LEN] = "", key_id[65] = "";
	bool json = false, force = false;
	struct sluice_json_writer j;
	int c, status = SP_EXIT_OK;

	while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			force = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
			usage_keygen(stdout);
			return SP_EXIT_OK;
		default:
			return sp_bad_option(cmd);
		}
	}
	if (optind != argc - 1 || argv[optind][0] == '\0')
		return sp_usage_error(cmd, "need exactly one NAME");
	if (asprintf(&priv, "%s.key", argv[optind]) < 0 ||
	    asprintf(&pub, "%s.pub", argv[optind]) < 0) {
		fprintf(stderr, "%s: out of memory\n", argv[optind]);
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

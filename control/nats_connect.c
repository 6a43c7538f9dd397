#include "nats_connect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file_read.h"

/* USER and PASSWORD from sec->user_file, or nothing; the caller wipes and
 * frees *text. */
static int read_user(const struct sluice_nats_security *sec, char **text, const char **user,
		     const char **password, char *err, size_t err_len)
{
	char why[256];
	size_t len;
	*text = NULL;
	if (sluice_file_read_private(sec->user_file, 4096, text, &len, why, sizeof(why)) != 0) {
		snprintf(err, err_len, "--bus-user-file %s: %s", sec->user_file, why);
		return -1;
	}
	(*text)[strcspn(*text, "\r\n")] = '\0';
	char *colon = strchr(*text, ':');
	if (colon == NULL || colon == *text || colon[1] == '\0') {
		snprintf(err, err_len,
			 "--bus-user-file %s: the first line must be USER:PASSWORD, both non-empty",
			 sec->user_file);
		return -1;
	}
	*colon = '\0';
	*user = *text;
	*password = colon + 1;
	return 0;
}

static void wipe(char *text)
{
	if (text != NULL)
		memset(text, 0, strlen(text));
	free(text);
}

/* Checks the pairs and the files' permissions. */
static int check_files(const struct sluice_nats_security *sec, char *err, size_t err_len)
{
	if ((sec->cert_file == NULL) != (sec->key_file == NULL)) {
		snprintf(err, err_len, "--bus-cert and --bus-key go together");
		return -1;
	}
	if (sec->user_file != NULL && sec->creds_file != NULL) {
		snprintf(err, err_len, "--bus-user-file and --bus-creds: one or the other");
		return -1;
	}
	const struct {
		const char *option, *path;
		bool private;
	} files[] = {{"--bus-ca", sec->ca_file, false},
		     {"--bus-cert", sec->cert_file, false},
		     {"--bus-key", sec->key_file, true},
		     {"--bus-creds", sec->creds_file, true}};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (files[i].path == NULL)
			continue;
		char why[256], *text = NULL;
		size_t len;
		int rc = files[i].private ? sluice_file_read_private(files[i].path, 1 << 20, &text,
								     &len, why, sizeof(why))
					  : sluice_file_read_all(files[i].path, 1 << 20, "file",
								 &text, &len, why, sizeof(why));
		wipe(text);
		if (rc != 0) {
			snprintf(err, err_len, "%s %s: %s", files[i].option, files[i].path, why);
			return -1;
		}
	}
	return 0;
}

int sluice_nats_security_check(const struct sluice_nats_security *sec, char *err, size_t err_len)
{
	if (sec == NULL)
		return 0;
	if (check_files(sec, err, err_len) != 0)
		return -1;
	if (sec->user_file != NULL) {
		char *text;
		const char *user, *password;
		int rc = read_user(sec, &text, &user, &password, err, err_len);
		wipe(text);
		return rc;
	}
	return 0;
}

/* TLS and credentials onto opts; the server list is already set. */
static int secure(natsOptions *opts, const struct sluice_nats_security *sec, char *err,
		  size_t err_len)
{
	if (check_files(sec, err, err_len) != 0)
		return -1;
	natsStatus s = NATS_OK;
	const char *step = "";
	if (sec->ca_file != NULL) {
		step = "--bus-ca";
		s = natsOptions_SetSecure(opts, true);
		if (s == NATS_OK)
			s = natsOptions_LoadCATrustedCertificates(opts, sec->ca_file);
	}
	if (s == NATS_OK && sec->cert_file != NULL) {
		step = "--bus-cert/--bus-key";
		s = natsOptions_SetSecure(opts, true);
		if (s == NATS_OK)
			s = natsOptions_LoadCertificatesChain(opts, sec->cert_file, sec->key_file);
	}
	if (s == NATS_OK && sec->creds_file != NULL) {
		step = "--bus-creds";
		s = natsOptions_SetUserCredentialsFromFiles(opts, sec->creds_file, NULL);
	}
	if (s == NATS_OK && sec->user_file != NULL) {
		char *text;
		const char *user, *password;
		if (read_user(sec, &text, &user, &password, err, err_len) != 0) {
			wipe(text);
			return -1;
		}
		step = "--bus-user-file";
		s = natsOptions_SetUserInfo(opts, user, password);
		wipe(text);
	}
	if (s != NATS_OK) {
		snprintf(err, err_len, "%s: %s", step, sluice_nats_reason(s));
		return -1;
	}
	return 0;
}

int sluice_nats_options(const char *servers, const char *what,
			const struct sluice_nats_security *sec, natsOptions **out, char *err,
			size_t err_len)
{
	char *copy = strdup(servers);
	const char *urls[32];
	int count = 0;
	*out = NULL;
	if (copy == NULL) {
		snprintf(err, err_len, "%s: out of memory", what);
		return -1;
	}
	for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok != NULL && count < 32;
	     tok = strtok_r(NULL, ",", &save))
		urls[count++] = tok;
	natsOptions *opts = NULL;
	natsStatus s = count == 0 ? NATS_INVALID_ARG : natsOptions_Create(&opts);
	if (s == NATS_OK)
		s = natsOptions_SetServers(opts, urls, count);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(opts, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(opts, 250);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(opts, 1000);
	/* A dead server is noticed within 2 to 3 s, not the default 4 minutes. */
	if (s == NATS_OK)
		s = natsOptions_SetPingInterval(opts, 1000);
	if (s == NATS_OK)
		s = natsOptions_SetMaxPingsOut(opts, 2);
	free(copy);
	if (s != NATS_OK) {
		snprintf(err, err_len, "%s %s: %s", what, servers, natsStatus_GetText(s));
		natsOptions_Destroy(opts);
		return -1;
	}
	if (sec != NULL && secure(opts, sec, err, err_len) != 0) {
		natsOptions_Destroy(opts);
		return -1;
	}
	*out = opts;
	return 0;
}

const char *sluice_nats_reason(natsStatus s)
{
	const char *last = nats_GetLastError(NULL);
	return last != NULL && last[0] != '\0' ? last : natsStatus_GetText(s);
}

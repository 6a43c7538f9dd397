#include "nats_connect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sluice_nats_options(const char *servers, const char *what, natsOptions **out, char *err,
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
	*out = opts;
	return 0;
}

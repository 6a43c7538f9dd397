#include "iface_offload.h"

#include <errno.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

bool sluice_devargs_iface(const char *args, char *name, size_t len)
{
	for (const char *p = args; p != NULL && *p != '\0';) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n > 6 && strncmp(p, "iface=", 6) == 0) {
			if (n - 6 >= len)
				return false;
			memcpy(name, p + 6, n - 6);
			name[n - 6] = '\0';
			return true;
		}
		p = end ? end + 1 : NULL;
	}
	return false;
}

static int ethtool(int fd, const char *ifname, void *cmd)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = cmd;
	return ioctl(fd, SIOCETHTOOL, &ifr);
}

int sluice_iface_offload(const char *ifname, struct sluice_iface_offload *out, char *err,
			 size_t err_len)
{
	*out = (struct sluice_iface_offload){0};
	if (strlen(ifname) >= IFNAMSIZ) {
		snprintf(err, err_len, "interface name '%s' is too long", ifname);
		return -1;
	}
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, err_len, "socket: %s", strerror(errno));
		return -1;
	}
	struct ethtool_drvinfo info = {.cmd = ETHTOOL_GDRVINFO};
	struct ethtool_value tx = {.cmd = ETHTOOL_GTXCSUM}, rx = {.cmd = ETHTOOL_GRXCSUM};
	int rc = -1;
	if (ethtool(fd, ifname, &info) != 0 || ethtool(fd, ifname, &tx) != 0) {
		snprintf(err, err_len, "%s: cannot read its checksum offload: %s", ifname,
			 strerror(errno));
		goto out;
	}
	out->veth = strcmp(info.driver, "veth") == 0;
	out->tx_on = tx.data != 0;
	/* Not every driver reports receive offload: then it is taken as off. */
	out->rx_on = ethtool(fd, ifname, &rx) == 0 && rx.data != 0;
	rc = 0;
out:
	close(fd);
	return rc;
}

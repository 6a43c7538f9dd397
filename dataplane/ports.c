#include "ports.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_ethdev.h>
#include <rte_mempool.h>

#include "iface_offload.h"

void sluice_port_describe(uint16_t port, char *buf, size_t len)
{
	char name[RTE_ETH_NAME_MAX_LEN] = "?";
	struct rte_eth_dev_info info;
	rte_eth_dev_get_name_by_port(port, name);
	if (rte_eth_dev_info_get(port, &info) == 0 && info.driver_name != NULL)
		snprintf(buf, len, "port %u %s (%s)", port, name, info.driver_name);
	else
		snprintf(buf, len, "port %u %s", port, name);
}

/* The Toeplitz key of one repeated 16-bit word hashes (a, b, pa, pb) and
 * (b, a, pb, pa) alike (Woo and Park, "Scalable TCP Session Monitoring with
 * Symmetric Receive-side Scaling"), so both directions of a connection land
 * on the same queue index, and so on the same worker. */
static uint8_t symmetric_key[64];

static void symmetric_rss(struct rte_eth_conf *conf, const struct rte_eth_dev_info *info)
{
	for (size_t i = 0; i < sizeof(symmetric_key); i += 2) {
		symmetric_key[i] = 0x6d;
		symmetric_key[i + 1] = 0x5a;
	}
	conf->rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
	conf->rx_adv_conf.rss_conf.rss_hf =
	    (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP | RTE_ETH_RSS_TCP) & info->flow_type_rss_offloads;
	if (info->hash_key_size > 0 && info->hash_key_size <= sizeof(symmetric_key)) {
		conf->rx_adv_conf.rss_conf.rss_key = symmetric_key;
		conf->rx_adv_conf.rss_conf.rss_key_len = info->hash_key_size;
	}
}

int sluice_port_start(uint16_t port, unsigned queues, unsigned rx_desc, unsigned tx_desc,
		      struct rte_mempool *const pools[], const unsigned nodes[],
		      bool need_symmetric, bool tcp_checksum, bool *tcp_checksum_by_port, char *err,
		      size_t err_len)
{
	char what[128];
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	int rc;

	if (!rte_eth_dev_is_valid_port(port)) {
		snprintf(err, err_len,
			 "port %u does not exist: DPDK found %u port(s); add devices with EAL "
			 "options such as --vdev net_pcap0,... or -a PCI_ADDRESS",
			 port, rte_eth_dev_count_avail());
		return -1;
	}
	sluice_port_describe(port, what, sizeof(what));
	rc = rte_eth_dev_info_get(port, &info);
	if (rc != 0) {
		snprintf(err, err_len, "%s: cannot read device info: %s", what, rte_strerror(-rc));
		return -1;
	}
	if (queues > info.max_rx_queues || queues > info.max_tx_queues) {
		snprintf(err, err_len,
			 "%s supports %u RX and %u TX queues, and %u workers need %u of each: use "
			 "fewer worker lcores or give the device more queues",
			 what, info.max_rx_queues, info.max_tx_queues, queues, queues);
		return -1;
	}
	memset(&conf, 0, sizeof(conf));
	bool symmetric = info.flow_type_rss_offloads != 0 && info.hash_key_size > 0 &&
			 info.hash_key_size <= sizeof(symmetric_key);
	if (queues > 1 && need_symmetric && !symmetric) {
		snprintf(err, err_len,
			 "%s cannot hash connections symmetrically (no RSS key to set), and "
			 "--ws-port needs both directions of a connection on one worker: run one "
			 "worker (e.g. -l 0-1)",
			 what);
		return -1;
	}
	if (queues > 1 && info.flow_type_rss_offloads != 0)
		symmetric_rss(&conf, &info);
	*tcp_checksum_by_port =
	    tcp_checksum && (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TCP_CKSUM);
	if (*tcp_checksum_by_port)
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
	rc = rte_eth_dev_configure(port, (uint16_t)queues, (uint16_t)queues, &conf);
	if (rc != 0) {
		snprintf(err, err_len, "%s: configure failed: %s", what, rte_strerror(-rc));
		return -1;
	}
	uint16_t nb_rx = (uint16_t)rx_desc, nb_tx = (uint16_t)tx_desc;
	rte_eth_dev_adjust_nb_rx_tx_desc(port, &nb_rx, &nb_tx);
	for (unsigned q = 0; q < queues; q++) {
		rc = rte_eth_rx_queue_setup(port, (uint16_t)q, nb_rx, nodes[q], NULL, pools[q]);
		if (rc != 0) {
			snprintf(err, err_len, "%s: RX queue %u setup failed: %s", what, q,
				 rte_strerror(-rc));
			return -1;
		}
		rc = rte_eth_tx_queue_setup(port, (uint16_t)q, nb_tx, nodes[q], NULL);
		if (rc != 0) {
			snprintf(err, err_len, "%s: TX queue %u setup failed: %s", what, q,
				 rte_strerror(-rc));
			return -1;
		}
	}
	/* Virtual devices often have no notion of it; that is fine. */
	(void)rte_eth_promiscuous_enable(port);
	rc = rte_eth_dev_start(port);
	if (rc != 0) {
		snprintf(err, err_len, "%s: start failed: %s", what, rte_strerror(-rc));
		return -1;
	}
	return 0;
}

void sluice_port_close(uint16_t port)
{
	if (!rte_eth_dev_is_valid_port(port))
		return;
	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
}

bool sluice_port_offload_warning(uint16_t port, char *msg, size_t len)
{
	struct rte_eth_dev_info info;
	char ifname[64], err[256];
	struct sluice_iface_offload off;

	if (rte_eth_dev_info_get(port, &info) != 0 || info.driver_name == NULL ||
	    strcmp(info.driver_name, "net_af_packet") != 0 || info.device == NULL)
		return false;
	const struct rte_devargs *da = rte_dev_devargs(info.device);
	if (da == NULL || !sluice_devargs_iface(da->args, ifname, sizeof(ifname)) ||
	    sluice_iface_offload(ifname, &off, err, sizeof(err)) != 0)
		return false;
	if (!off.veth || (!off.tx_on && !off.rx_on))
		return false;
	snprintf(msg, len,
		 "port %u (af_packet on %s): checksum offload is on (tx %s, rx %s). A host "
		 "sending through a veth with offload on leaves UDP checksums unfinished; "
		 "forwarded as they are, receivers drop them (UdpInCsumErrors) while Sluice's "
		 "counters look healthy. Turn it off on every veth end, in every namespace: "
		 "ethtool -K %s tx off rx off (docs/operations.md, \"af_packet\")",
		 port, ifname, off.tx_on ? "on" : "off", off.rx_on ? "on" : "off", ifname);
	return true;
}

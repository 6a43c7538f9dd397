/* Bringing up the two DPDK ports Sluice bridges.
 *
 * Contract: each port gets `queues` RX and TX queues (one of each per worker),
 * is put in promiscuous mode where the driver allows (a bump in the wire must
 * see traffic addressed to others) and started. Drivers that cannot give that
 * many queues are refused with their name and limit, so the operator knows to
 * use fewer workers or more queues (net_pcap: one rx_pcap/tx_pcap per queue).
 */
#ifndef SLUICE_DATAPLANE_PORTS_H
#define SLUICE_DATAPLANE_PORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rte_mempool;

/* Queue q's descriptors live on nodes[q] and receive into pools[q]: the node
 * of the worker that polls it (l3fwd's layout). With several queues, RSS
 * hashes with a symmetric key, so both directions of a connection reach the
 * same queue index; need_symmetric (TCP chat services) refuses a device that
 * cannot, naming the fallback (one worker). With tcp_checksum, a device that
 * can verify TCP checksums on receive is asked to (the mbufs' RX L4 flags);
 * *tcp_checksum_by_port says whether it was. */
int sluice_port_start(uint16_t port, unsigned queues, unsigned rx_desc, unsigned tx_desc,
		      struct rte_mempool *const pools[], const unsigned nodes[],
		      bool need_symmetric, bool tcp_checksum, bool *tcp_checksum_by_port, char *err,
		      size_t err_len);

/* Stops and closes the port, which also flushes drivers that write files. */
void sluice_port_close(uint16_t port);

/* Whether port is an af_packet port on a veth with checksum offload on
 * (iface_offload.h): then msg says what happens and what to do. */
bool sluice_port_offload_warning(uint16_t port, char *msg, size_t len);

/* "net_pcap0 (net_pcap)" or similar, for messages and the summary. */
void sluice_port_describe(uint16_t port, char *buf, size_t len);

#endif

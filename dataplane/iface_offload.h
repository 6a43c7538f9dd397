/* Checksum offload on the Linux interface behind an af_packet port.
 *
 * A host that sends through a veth with transmit checksum offload on leaves
 * its UDP checksums unfinished (the kernel would complete them on a real
 * NIC); an af_packet port reads such packets as they are, Sluice forwards
 * them, and the receiver drops them as corrupt (UdpInCsumErrors) while every
 * counter here looks healthy. The daemon warns at start when an af_packet
 * interface is a veth with offload on (docs/operations.md, "af_packet").
 *
 * Contract: plain ioctls (SIOCETHTOOL), no DPDK; safe to call before the
 * ports start. Never on the packet path.
 */
#ifndef SLUICE_DATAPLANE_IFACE_OFFLOAD_H
#define SLUICE_DATAPLANE_IFACE_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>

struct sluice_iface_offload {
	bool veth;  /* the driver is veth */
	bool tx_on; /* transmit checksum offload */
	bool rx_on; /* receive checksum offload */
};

/* The value of "iface=NAME" in a vdev's arguments ("iface=veth0,qpairs=1"),
 * into name. false when there is none or it does not fit. */
bool sluice_devargs_iface(const char *args, char *name, size_t len);

/* Reads ifname's driver and checksum offloads. 0, or -1 with err (no such
 * interface, or no ethtool support). */
int sluice_iface_offload(const char *ifname, struct sluice_iface_offload *out, char *err,
			 size_t err_len);

#endif

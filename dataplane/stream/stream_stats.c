#include "stream_stats.h"

static const char *const reason_names[SLUICE_STREAM_REASON_COUNT] = {
    [SLUICE_STREAM_OK] = "ok",
    [SLUICE_STREAM_TCP_CHECKSUM] = "tcp_checksum",
    [SLUICE_STREAM_MIDSTREAM] = "tcp_midstream",
    [SLUICE_STREAM_TABLE_FULL] = "flow_table_full",
    [SLUICE_STREAM_FLOW_BYTES] = "flow_bytes",
    [SLUICE_STREAM_NO_MEMORY] = "stream_memory",
    [SLUICE_STREAM_OOO_LIMIT] = "tcp_ooo_limit",
    [SLUICE_STREAM_DUPLICATE] = "tcp_duplicate",
    [SLUICE_STREAM_AFTER_FIN] = "tcp_after_fin",
    [SLUICE_STREAM_SYN_DATA] = "tcp_syn_data",
    [SLUICE_STREAM_RST_OUTSIDE] = "tcp_rst_outside",
    [SLUICE_STREAM_SYN_REOPEN] = "tcp_syn_reopen",
    [SLUICE_STREAM_AFTER_RESET] = "tcp_after_reset",
    [SLUICE_STREAM_MULTI_SEGMENT] = "tcp_multi_segment",
    [SLUICE_STREAM_HOLD_TIMEOUT] = "hold_timeout",
    [SLUICE_STREAM_TLS] = "tls_seen",
    [SLUICE_STREAM_NOT_UPGRADED] = "ws_not_upgraded",
    [SLUICE_STREAM_WS_PROTOCOL] = "ws_protocol",
    [SLUICE_STREAM_WS_COMPRESSED] = "ws_compressed",
    [SLUICE_STREAM_WS_BINARY] = "ws_binary",
    [SLUICE_STREAM_WS_TRUNCATED] = "ws_truncated",
    [SLUICE_STREAM_INVALID_UTF8] = "invalid_utf8",
    [SLUICE_STREAM_SCAN_ERROR] = "scan_error",
    [SLUICE_STREAM_BLOCKED] = "blocked_reset",
};

const char *sluice_stream_reason_name(enum sluice_stream_reason r)
{
	if ((unsigned)r >= SLUICE_STREAM_REASON_COUNT)
		return "unknown";
	return reason_names[r];
}

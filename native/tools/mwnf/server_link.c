/* serve-script runs the real NetFlow server of mwcomms, so Java ingest/sink tests exercise the same
 * queueing, drop and request code as production. The Makefile builds tools from their own
 * directory only, hence the source is compiled in here rather than duplicated. */
#include "../../mwcomms/netflow_server.c"

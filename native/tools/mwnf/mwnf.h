/* mwnf: the NetFlow command-line client (client commands in main.c, the scripted NetFlow source
 * `serve-script` in serve.c). */
#ifndef MWNF_H
#define MWNF_H

#include <stdint.h>

#include "mw/netflow.h"

/* exit codes (documented in --help and docs/protocol.md) */
#define MWNF_OK        0
#define MWNF_EREFUSED  1 /* the server answered with a non-zero status */
#define MWNF_EUSAGE    2 /* bad command line */
#define MWNF_ECONN     3 /* cannot connect, timeout, protocol error, token refused */

int mwnf_serve_main(int argc, char **argv);
/* "EBADF (unknown socket)" style text for a response status */
const char *mwnf_status_str(uint32_t status, char *buf, size_t len);
/* Parses "HOST:PORT", "[V6]:PORT" or "PORT"; 0 or -1 */
int mwnf_parse_hostport(const char *s, char *host, size_t hlen, uint16_t *port);
/* Parses an address literal into af (4|6) and 16 bytes; 0 or -1 */
int mwnf_parse_addr(const char *s, uint32_t *af, uint8_t addr[16]);
/* Parses an unsigned number (decimal or 0x hex) into *v within max; 0 or -1 */
int mwnf_parse_u64(const char *s, uint64_t max, uint64_t *v);

#endif

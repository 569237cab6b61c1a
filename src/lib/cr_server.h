/* cr_server.h: the FastCGI accept loop every group's main() runs. */
#ifndef CR_SERVER_H
#define CR_SERVER_H

#include <stddef.h>

#include "cr_http.h"
#include "cr_route.h"

/* Loads the configuration, opens the log, then accepts requests on the FastCGI socket
 * (fd 0, as spawn-fcgi hands it over) and dispatches each through routes until SIGTERM,
 * which lets the current request finish. Returns the process exit status. */
int cr_server_main(const char *group, const struct cr_route *routes, size_t nroutes);

/* Operations routes (GET /metrics) this group serves besides its API table: matched on the
 * exact path before the API's table and never counted in the request metrics. Call before
 * cr_server_main; ops must outlive it. */
void cr_server_ops(const struct cr_route *ops, size_t n);

/* Reads up to n bytes of the request body into buf; returns how many (fewer only at its end),
 * or -1 on an error. */
typedef int (*cr_server_read_fn)(void *ctx, char *buf, int n);

/* Fills req (zeroed, with its arena set) from the request's CGI parameters (envp: the
 * NULL-terminated "NAME=value" strings FastCGI hands over) and reads a body of at most
 * CR_BODY_MAX bytes through rd. Strings point into envp or the arena. Apart from the accept
 * loop so that tests/fuzz/ can feed it without a FastCGI connection. */
void cr_server_read(struct cr_req *req, char **envp, cr_server_read_fn rd, void *ctx);

#endif

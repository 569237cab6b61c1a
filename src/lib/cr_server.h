/* cr_server.h: the FastCGI accept loop every group's main() runs. */
#ifndef CR_SERVER_H
#define CR_SERVER_H

#include <stddef.h>

#include "cr_route.h"

/* Loads the configuration, opens the log, then accepts requests on the FastCGI socket
 * (fd 0, as spawn-fcgi hands it over) and dispatches each through routes until SIGTERM,
 * which lets the current request finish. Returns the process exit status. */
int cr_server_main(const char *group, const struct cr_route *routes, size_t nroutes);

#endif

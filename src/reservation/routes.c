/* routes.c: the reservation group's endpoints of API.md and their thin handlers. */
#include "routes.h"

const struct cr_route reservation_routes[] = {
    {"GET", "/healthz", CR_TOKEN_NONE, CR_BODY_NONE, cr_health_handler},
};
const size_t reservation_nroutes = sizeof(reservation_routes) / sizeof(reservation_routes[0]);

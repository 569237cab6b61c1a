/* routes.c: the payment group's endpoints of API.md and their thin handlers. */
#include "routes.h"

const struct cr_route payment_routes[] = {
    {"GET", "/healthz", CR_TOKEN_NONE, CR_BODY_NONE, cr_health_handler},
};
const size_t payment_nroutes = sizeof(payment_routes) / sizeof(payment_routes[0]);

/* routes.h: the concert group's route table. */
#ifndef CR_CONCERT_ROUTES_H
#define CR_CONCERT_ROUTES_H

#include <stddef.h>

#include "cr_route.h"

extern const struct cr_route concert_routes[];
extern const size_t concert_nroutes;
extern const struct cr_route concert_ops_routes[];
extern const size_t concert_nops;
/* cr_route_before_gate's hook: the seat map's Redis read rides with the gate's. */
void concert_before_gate(const struct cr_route *route, struct cr_req *req);

#endif

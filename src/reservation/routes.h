/* routes.h: the reservation group's route table. */
#ifndef CR_RESERVATION_ROUTES_H
#define CR_RESERVATION_ROUTES_H

#include <stddef.h>

#include "cr_route.h"

extern const struct cr_route reservation_routes[];
extern const size_t reservation_nroutes;

#endif

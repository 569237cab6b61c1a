/* routes.h: the payment group's route table. */
#ifndef CR_PAYMENT_ROUTES_H
#define CR_PAYMENT_ROUTES_H

#include <stddef.h>

#include "cr_route.h"

extern const struct cr_route payment_routes[];
extern const size_t payment_nroutes;

#endif

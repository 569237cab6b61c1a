/* routes.h: the wallet group's route table. */
#ifndef CR_WALLET_ROUTES_H
#define CR_WALLET_ROUTES_H

#include <stddef.h>

#include "cr_route.h"

extern const struct cr_route wallet_routes[];
extern const size_t wallet_nroutes;

#endif

/* routes.h: the queue group's route table. */
#ifndef CR_QUEUE_ROUTES_H
#define CR_QUEUE_ROUTES_H

#include <stddef.h>

#include "cr_route.h"

extern const struct cr_route queue_routes[];
extern const size_t queue_nroutes;

#endif

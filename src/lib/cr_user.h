/* cr_user.h: finding users by their public id (the wallet creates them). */
#ifndef CR_USER_H
#define CR_USER_H

#include "cr_arena.h"
#include "cr_uuid.h"

/* Looks up the internal id of the user with public id u. CR_OK, CR_E_NOT_FOUND, or a
 * database error (CR_E_UNAVAILABLE...). */
int cr_user_find(struct cr_arena *a, const struct cr_uuid *u, long long *id);

#endif

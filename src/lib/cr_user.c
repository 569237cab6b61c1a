/* cr_user.c: user lookups by public UUID through the unique index on users.uuid. */
#include "cr_db.h"
#include "cr_error.h"
#include "cr_user.h"

int cr_user_find(struct cr_arena *a, const struct cr_uuid *u, long long *id)
{
    struct cr_db_rows rows;
    struct cr_db_val p[] = {CR_DB_UUID(u)};
    int rc = cr_db_query(a, "SELECT id FROM users WHERE uuid = ?", p, 1, &rows);
    if (rc != CR_OK)
        return rc;
    if (rows.nrows == 0)
        return CR_E_NOT_FOUND;
    *id = CR_DB_CELL(&rows, 0, 0)->i;
    return CR_OK;
}

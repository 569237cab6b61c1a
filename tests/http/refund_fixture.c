/* refund_fixture.c: refund requests, invariants and the money rule for the refund tests. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_arena.h"
#include "cr_error.h"
#include "cr_uuid.h"
#include "refund_fixture.h"

long rf_refund(struct cr_test_res *r, const struct fx_user *u, const char *rid,
               const char *auth)
{
    char path[128];
    const char *h[] = {auth != NULL ? auth : u->auth, NULL};
    snprintf(path, sizeof(path), "/api/v1/reservations/%s/refund", rid);
    return cr_test_req(r, "POST", path, NULL, h);
}

int rf_buy(struct fx_user *u, long long schedule, int seat, char *rid)
{
    struct cr_test_res r;
    const char *rids[] = {rid};
    long st = fx_hold(u, schedule, seat, rid, NULL);
    if (st == 409)
        return 0;
    if (st != 201)
        return -1;
    st = fx_pay(&r, u, rids, 1, NULL);
    cr_test_res_free(&r);
    if (st != 201 && st != 410)
        return -1;
    if (fx_token(u) < 0) /* the paying token is spent (or, after a 410, still good) */
        return -1;
    return st == 201 ? 1 : 0;
}

void rf_invariants_run(struct rf_invariants *out)
{
    char cmd[2048], line[512];
    const char *src = getenv("CR_SRC_DIR"), *sock = getenv("CR_DB_SOCKET");
    assert_non_null(src);
    assert_non_null(sock);
    snprintf(cmd, sizeof(cmd),
             "mariadb --no-defaults --socket='%s' -uroot -N -B concert "
             "< '%s/bench/invariants.sql'",
             sock, src);
    memset(out, 0, sizeof(*out));
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL && out->n < RF_MAX_INVARIANTS) {
        char *tab = strchr(line, '\t');
        if (tab == NULL)
            continue;
        *tab = '\0';
        snprintf(out->name[out->n], sizeof(out->name[0]), "%.63s", line);
        out->count[out->n] = atoll(tab + 1);
        out->n++;
    }
    assert_int_equal(pclose(f), 0);
    assert_true(out->n >= 10);
}

void rf_invariants_not_grown(const struct rf_invariants *before, const struct rf_invariants *after)
{
    int bad = 0;
    assert_int_equal(before->n, after->n);
    for (int i = 0; i < after->n; i++) {
        assert_string_equal(before->name[i], after->name[i]);
        if (after->count[i] > before->count[i]) {
            print_error("invariant %s: %lld rows break it (%lld before)\n", after->name[i],
                        after->count[i], before->count[i]);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

void rf_assert_money_rule(const char *user)
{
    long long uid = fx_user_db_id(user);
    struct cr_db_val p[] = {CR_DB_I(uid)};
    long long sum = cr_test_db_int("SELECT COALESCE(SUM(amount), 0) FROM balance_entries"
                                   " WHERE user_id = ?",
                                   p, 1);
    assert_int_equal(fx_balance(user), sum);
    /* Each entry's balance_after is the running sum up to it (in id order). */
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM balance_entries AS b"
                                    " WHERE b.user_id = ? AND b.balance_after <>"
                                    " (SELECT SUM(c.amount) FROM balance_entries AS c"
                                    "  WHERE c.user_id = b.user_id AND c.id <= b.id)",
                                    p, 1),
                     0);
}

long long rf_entries(const char *user, const char *type, long long *sum)
{
    struct cr_db_val p[] = {CR_DB_I(fx_user_db_id(user)), CR_DB_STRZ(type)};
    if (sum != NULL)
        *sum = cr_test_db_int("SELECT COALESCE(SUM(amount), 0) FROM balance_entries"
                              " WHERE user_id = ? AND type = ?",
                              p, 2);
    return cr_test_db_int("SELECT COUNT(*) FROM balance_entries WHERE user_id = ? AND type = ?",
                          p, 2);
}

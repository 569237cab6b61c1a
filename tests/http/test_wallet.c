/* test_wallet.c: users, balance, charge (concurrency, idempotency, limits, bad input) and the
 * keyset-paged balance history, through nginx, with the database checked afterwards. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cr_arena.h"
#include "cr_config.h"
#include "cr_db.h"
#include "cr_idem.h"
#include "cr_test.h"
#include "cr_time.h"
#include "cr_uuid.h"

static struct cr_arena *arena;

/* ---------------------------------------------------------------------------------------- */
/* Helpers: requests, database reads (main thread only: cr_db is one connection).           */

static void new_key(char *buf, size_t n)
{
    static int seq;
    struct cr_uuid u;
    char s[CR_UUID_STRLEN];
    cr_random_bytes(u.b, sizeof(u.b));
    snprintf(buf, n, "k-%d-%s", ++seq, cr_uuid_format(&u, s));
}

static long charge(struct cr_test_res *r, const char *uid, const char *body, const char *key)
{
    char path[128], h[256];
    const char *hs[] = {h, NULL};
    snprintf(path, sizeof(path), "/api/v1/users/%s/balance/charge", uid);
    if (key != NULL)
        snprintf(h, sizeof(h), "Idempotency-Key: %s", key);
    return cr_test_req(r, "POST", path, body, key != NULL ? hs : NULL);
}

static long api_balance(const char *uid)
{
    struct cr_test_res r;
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/users/%s/balance", uid);
    assert_int_equal(cr_test_req(&r, "GET", path, NULL, NULL), 200);
    assert_string_equal(cr_test_str(&r, "userId"), uid);
    long long b = cr_test_int(&r, "balance");
    cr_test_res_free(&r);
    return (long)b;
}

static struct cr_db_val uuid_param(const char *uid, struct cr_uuid *u)
{
    assert_int_equal(cr_uuid_parse(uid, u), 0);
    return CR_DB_UUID(u);
}

static long long db_user_id(const char *uid)
{
    struct cr_uuid u;
    struct cr_db_rows rows;
    struct cr_db_val p[] = {uuid_param(uid, &u)};
    assert_int_equal(cr_db_query(arena, "SELECT id FROM users WHERE uuid = ?", p, 1, &rows), 0);
    assert_int_equal(rows.nrows, 1);
    return CR_DB_CELL(&rows, 0, 0)->i;
}

static long long db_balance(const char *uid)
{
    struct cr_uuid u;
    struct cr_db_rows rows;
    struct cr_db_val p[] = {uuid_param(uid, &u)};
    assert_int_equal(cr_db_query(arena, "SELECT balance FROM users WHERE uuid = ?", p, 1, &rows),
                     0);
    assert_int_equal(rows.nrows, 1);
    return CR_DB_CELL(&rows, 0, 0)->i;
}

static long long db_entries(const char *uid)
{
    struct cr_db_rows rows;
    struct cr_db_val p[] = {CR_DB_I(db_user_id(uid))};
    assert_int_equal(cr_db_query(arena, "SELECT COUNT(*) FROM balance_entries WHERE user_id = ?",
                                 p, 1, &rows),
                     0);
    return CR_DB_CELL(&rows, 0, 0)->i;
}

static long long db_idem_rows(const char *uid)
{
    struct cr_db_rows rows;
    struct cr_db_val p[] = {CR_DB_I(db_user_id(uid))};
    assert_int_equal(cr_db_query(arena,
                                 "SELECT COUNT(*) FROM idempotency_keys WHERE user_id = ?", p, 1,
                                 &rows),
                     0);
    return CR_DB_CELL(&rows, 0, 0)->i;
}

static void db_set_balance(const char *uid, long long balance)
{
    struct cr_uuid u;
    struct cr_db_val p[] = {CR_DB_I(balance), uuid_param(uid, &u)};
    assert_int_equal(cr_db_exec("UPDATE users SET balance = ? WHERE uuid = ?", p, 2, NULL, NULL),
                     0);
}

/* ---------------------------------------------------------------------------------------- */
/* Users and balance.                                                                        */

static void test_create_user(void **state)
{
    struct cr_test_res r;
    struct cr_uuid u;
    /* With {} and with no body at all. */
    assert_int_equal(cr_test_req(&r, "POST", "/api/v1/users", "{}", NULL), 201);
    const char *uid = cr_test_str(&r, "userId");
    assert_int_equal(strlen(uid), 36);
    assert_int_equal(cr_uuid_parse(uid, &u), 0);
    char lower[CR_UUID_STRLEN];
    assert_string_equal(cr_uuid_format(&u, lower), uid); /* lower case */
    assert_int_equal(u.b[6] >> 4, 7);                    /* UUIDv7 */
    assert_int_equal(cr_test_int(&r, "balance"), 0);
    assert_int_equal(db_balance(uid), 0);
    assert_int_equal(api_balance(uid), 0);
    cr_test_res_free(&r);

    assert_int_equal(cr_test_req(&r, "POST", "/api/v1/users", NULL, NULL), 201);
    assert_int_equal(strlen(cr_test_str(&r, "userId")), 36);
    assert_int_equal(cr_test_int(&r, "balance"), 0);
    cr_test_res_free(&r);

    /* A body that is not a JSON object is 400. */
    cr_test_req(&r, "POST", "/api/v1/users", "[]", NULL);
    cr_test_assert_error(&r, 400, "INVALID_REQUEST");
    cr_test_res_free(&r);
    cr_test_req(&r, "POST", "/api/v1/users", "{", NULL);
    cr_test_assert_error(&r, 400, "INVALID_REQUEST");
    cr_test_res_free(&r);
}

static void test_balance_errors(void **state)
{
    struct cr_test_res r;
    struct cr_uuid u;
    char path[128], uid[CR_UUID_STRLEN];
    cr_uuid_v7(&u, cr_time_now_ms());
    cr_uuid_format(&u, uid);
    const char *fmt[] = {"/api/v1/users/%s/balance", "/api/v1/users/%s/balance/history"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), fmt[i], uid);
        cr_test_req(&r, "GET", path, NULL, NULL);
        cr_test_assert_error(&r, 404, "NOT_FOUND");
        cr_test_res_free(&r);
        snprintf(path, sizeof(path), fmt[i], "not-a-uuid");
        cr_test_req(&r, "GET", path, NULL, NULL);
        cr_test_assert_error(&r, 400, "INVALID_REQUEST");
        cr_test_res_free(&r);
    }
    /* Wrong method on a wallet path. */
    snprintf(path, sizeof(path), "/api/v1/users/%s/balance", uid);
    cr_test_req(&r, "POST", path, "{}", NULL);
    cr_test_assert_error(&r, 405, "METHOD_NOT_ALLOWED");
    cr_test_res_free(&r);
}

/* ---------------------------------------------------------------------------------------- */
/* Charges.                                                                                  */

static void test_charge(void **state)
{
    struct cr_test_res r;
    char uid[CR_UUID_STRLEN];
    cr_test_new_user(uid);
    assert_int_equal(charge(&r, uid, "{\"amount\": 10000}", NULL), 200);
    assert_string_equal(cr_test_str(&r, "userId"), uid);
    assert_int_equal(cr_test_int(&r, "balance"), 10000);
    cr_test_res_free(&r);
    assert_int_equal(charge(&r, uid, "{\"amount\": 1}", NULL), 200);
    assert_int_equal(cr_test_int(&r, "balance"), 10001);
    cr_test_res_free(&r);
    assert_int_equal(api_balance(uid), 10001);
    assert_int_equal(db_balance(uid), 10001);
    assert_int_equal(db_entries(uid), 2);
    /* The largest single charge is allowed. */
    assert_int_equal(charge(&r, uid, "{\"amount\": 10000000}", NULL), 200);
    assert_int_equal(cr_test_int(&r, "balance"), 10010001);
    cr_test_res_free(&r);
    /* A charge without an Idempotency-Key leaves no idempotency row. */
    assert_int_equal(db_idem_rows(uid), 0);
}

struct par_ctx {
    const char *uid;
    const char *key;
    const char *body;
    long status[128];
    char *bodies[128];
    char *codes[128];
};

static void par_charge(int i, void *arg)
{
    struct par_ctx *c = arg;
    struct cr_test_res r;
    charge(&r, c->uid, c->body, c->key);
    c->status[i] = r.status;
    c->bodies[i] = strdup(r.body);
    c->codes[i] = strdup(cr_test_error_code(&r));
    cr_test_res_free(&r);
}

static void par_free(struct par_ctx *c, int n)
{
    for (int i = 0; i < n; i++) {
        free(c->bodies[i]);
        free(c->codes[i]);
    }
}

static void test_concurrent_charges_lose_nothing(void **state)
{
    struct par_ctx c;
    char uid[CR_UUID_STRLEN];
    cr_test_new_user(uid);
    struct cr_test_res r;
    assert_int_equal(charge(&r, uid, "{\"amount\": 500}", NULL), 200);
    cr_test_res_free(&r);
    long long before = db_balance(uid), entries = db_entries(uid);

    memset(&c, 0, sizeof(c));
    c.uid = uid;
    c.body = "{\"amount\": 1000}";
    cr_test_parallel(16, 100, par_charge, &c);
    for (int i = 0; i < 100; i++) {
        if (c.status[i] != 200)
            print_error("charge %d: %ld %s\n", i, c.status[i], c.bodies[i]);
        assert_int_equal(c.status[i], 200);
    }
    par_free(&c, 100);

    assert_int_equal(db_balance(uid), before + 100000);
    assert_int_equal(api_balance(uid), before + 100000);
    assert_int_equal(db_entries(uid), entries + 100);
    /* 100 CHARGE entries whose balance_after step by 1,000 from the old balance, in id order. */
    struct cr_db_rows rows;
    struct cr_db_val p[] = {CR_DB_I(db_user_id(uid))};
    assert_int_equal(cr_db_query(arena,
                                 "SELECT type, amount, balance_after FROM balance_entries "
                                 "WHERE user_id = ? AND amount = 1000 ORDER BY id",
                                 p, 1, &rows),
                     0);
    assert_int_equal(rows.nrows, 100);
    for (int i = 0; i < 100; i++) {
        assert_string_equal(CR_DB_CELL(&rows, i, 0)->s, "CHARGE");
        assert_int_equal(CR_DB_CELL(&rows, i, 2)->i, before + 1000LL * (i + 1));
    }
}

static void test_idempotent_charge(void **state)
{
    struct par_ctx c;
    struct cr_test_res r, again;
    char uid[CR_UUID_STRLEN], other[CR_UUID_STRLEN], key[96];
    cr_test_new_user(uid);
    cr_test_new_user(other);
    new_key(key, sizeof(key));

    memset(&c, 0, sizeof(c));
    c.uid = uid;
    c.key = key;
    c.body = "{\"amount\": 7000}";
    cr_test_parallel(10, 10, par_charge, &c);
    int first = -1, done = 0, in_progress = 0;
    for (int i = 0; i < 10; i++) {
        if (c.status[i] == 200) {
            if (first < 0)
                first = i;
            assert_string_equal(c.bodies[i], c.bodies[first]);
            done++;
        } else {
            if (c.status[i] != 409 || strcmp(c.codes[i], "REQUEST_IN_PROGRESS") != 0)
                print_error("repeat %d: %ld %s\n", i, c.status[i], c.bodies[i]);
            assert_int_equal(c.status[i], 409);
            assert_string_equal(c.codes[i], "REQUEST_IN_PROGRESS");
            in_progress++;
        }
    }
    assert_true(first >= 0);
    assert_int_equal(done + in_progress, 10);
    /* The balance moved exactly once. */
    assert_int_equal(db_balance(uid), 7000);
    assert_int_equal(db_entries(uid), 1);
    assert_int_equal(db_idem_rows(uid), 1);

    /* A later retry gets the identical first response, and moves nothing. */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(charge(&again, uid, "{ \"amount\" : 7000 }", key), 200);
        assert_string_equal(again.body, c.bodies[first]);
        cr_test_res_free(&again);
    }
    par_free(&c, 10);
    assert_int_equal(db_balance(uid), 7000);
    assert_int_equal(db_entries(uid), 1);

    /* The same key with another amount. */
    charge(&r, uid, "{\"amount\": 7001}", key);
    cr_test_assert_error(&r, 409, "IDEMPOTENCY_KEY_REUSED");
    cr_test_res_free(&r);
    assert_int_equal(db_balance(uid), 7000);
    assert_int_equal(db_entries(uid), 1);

    /* Another user's use of the same key is unrelated. */
    assert_int_equal(charge(&r, other, "{\"amount\": 7001}", key), 200);
    assert_int_equal(cr_test_int(&r, "balance"), 7001);
    cr_test_res_free(&r);
    assert_int_equal(db_balance(other), 7001);

    /* Keys are case-sensitive: another key, another charge. */
    char upper[96];
    snprintf(upper, sizeof(upper), "%s", key);
    upper[0] = 'K';
    assert_int_equal(charge(&r, uid, "{\"amount\": 7000}", upper), 200);
    assert_int_equal(cr_test_int(&r, "balance"), 14000);
    cr_test_res_free(&r);
}

static void test_limit_exceeded(void **state)
{
    struct cr_test_res r, again;
    char uid[CR_UUID_STRLEN], key[96];
    long long max = cr_config_int("BALANCE_MAX");
    cr_test_new_user(uid);
    db_set_balance(uid, max - 500);

    charge(&r, uid, "{\"amount\": 1000}", NULL);
    cr_test_assert_error(&r, 422, "BALANCE_LIMIT_EXCEEDED");
    cr_test_res_free(&r);
    assert_int_equal(db_balance(uid), max - 500);
    assert_int_equal(db_entries(uid), 0);

    /* With a key, the 422 is recorded and replayed as it was, and nothing moves. */
    new_key(key, sizeof(key));
    charge(&r, uid, "{\"amount\": 501}", key);
    cr_test_assert_error(&r, 422, "BALANCE_LIMIT_EXCEEDED");
    charge(&again, uid, "{\"amount\": 501}", key);
    assert_int_equal(again.status, 422);
    assert_string_equal(again.body, r.body);
    cr_test_res_free(&r);
    cr_test_res_free(&again);
    assert_int_equal(db_balance(uid), max - 500);
    assert_int_equal(db_entries(uid), 0);

    /* Up to the maximum exactly is fine. */
    assert_int_equal(charge(&r, uid, "{\"amount\": 500}", NULL), 200);
    assert_int_equal(cr_test_int(&r, "balance"), max);
    cr_test_res_free(&r);
    charge(&r, uid, "{\"amount\": 1}", NULL);
    cr_test_assert_error(&r, 422, "BALANCE_LIMIT_EXCEEDED");
    cr_test_res_free(&r);
    assert_int_equal(db_balance(uid), max);
    assert_int_equal(db_entries(uid), 1);
}

static void test_bad_charges_change_nothing(void **state)
{
    static const char *bad_bodies[] = {
        "{\"amount\": 0}",        "{\"amount\": -5}",     "{\"amount\": 1000.0}",
        "{\"amount\": 1e3}",      "{\"amount\": \"1000\"}", "{\"amount\": true}",
        "{\"amount\": null}",     "{}",                   "{\"amount\": 10000001}",
        "{\"amount\": 99999999999999999999}", "{\"amount\": 1000",   "[1000]",
        "{\"amount\": 1000} x",  "{\"amont\": 1000}",
    };
    struct cr_test_res r;
    struct cr_uuid u;
    char uid[CR_UUID_STRLEN], unknown[CR_UUID_STRLEN], key[96], path[128];
    cr_test_new_user(uid);
    assert_int_equal(charge(&r, uid, "{\"amount\": 3000}", NULL), 200);
    cr_test_res_free(&r);

    for (size_t i = 0; i < sizeof(bad_bodies) / sizeof(bad_bodies[0]); i++) {
        charge(&r, uid, bad_bodies[i], NULL);
        if (r.status != 400)
            print_error("body %s\n", bad_bodies[i]);
        cr_test_assert_error(&r, 400, "INVALID_REQUEST");
        cr_test_res_free(&r);
        /* The same with a key: still 400 and no key recorded. */
        new_key(key, sizeof(key));
        charge(&r, uid, bad_bodies[i], key);
        cr_test_assert_error(&r, 400, "INVALID_REQUEST");
        cr_test_res_free(&r);
    }
    /* A missing body. */
    snprintf(path, sizeof(path), "/api/v1/users/%s/balance/charge", uid);
    cr_test_req(&r, "POST", path, NULL, NULL);
    cr_test_assert_error(&r, 400, "INVALID_REQUEST");
    cr_test_res_free(&r);
    /* Not JSON. */
    const char *text[] = {"Content-Type: text/plain", NULL};
    cr_test_req(&r, "POST", path, "{\"amount\": 1000}", text);
    cr_test_assert_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE");
    cr_test_res_free(&r);

    /* Bad Idempotency-Keys. */
    char long_key[80];
    memset(long_key, 'a', 65);
    long_key[65] = '\0';
    const char *bad_keys[] = {long_key, "a b", "a/b", "k\xc3\xa9y", "a.b"};
    for (size_t i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++) {
        charge(&r, uid, "{\"amount\": 1000}", bad_keys[i]);
        if (r.status != 400)
            print_error("key %s\n", bad_keys[i]);
        cr_test_assert_error(&r, 400, "INVALID_REQUEST");
        cr_test_res_free(&r);
    }
    /* 64 characters is the longest good key. */
    long_key[64] = '\0';
    assert_int_equal(charge(&r, uid, "{\"amount\": 1}", long_key), 200);
    cr_test_res_free(&r);

    /* Unknown user, malformed user id. */
    cr_uuid_v7(&u, cr_time_now_ms());
    cr_uuid_format(&u, unknown);
    charge(&r, unknown, "{\"amount\": 1000}", NULL);
    cr_test_assert_error(&r, 404, "NOT_FOUND");
    cr_test_res_free(&r);
    const char *bad_ids[] = {"not-a-uuid", "12345", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5",
                             "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5g"};
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
        charge(&r, bad_ids[i], "{\"amount\": 1000}", NULL);
        cr_test_assert_error(&r, 400, "INVALID_REQUEST");
        cr_test_res_free(&r);
    }

    /* Nothing changed but the one good 1-unit charge. */
    assert_int_equal(db_balance(uid), 3001);
    assert_int_equal(api_balance(uid), 3001);
    assert_int_equal(db_entries(uid), 2);
    assert_int_equal(db_idem_rows(uid), 1);
}

/* Idempotency rows left by dead or ancient requests, planted directly in the database. */
static void plant_key(const char *uid, const char *key, const char *canon, const char *state,
                      long long age_ms)
{
    uint8_t hash[32];
    cr_idem_sha256(canon, strlen(canon), hash);
    struct cr_db_val p[] = {CR_DB_I(db_user_id(uid)), CR_DB_STRZ(key), CR_DB_B(hash, 32),
                            CR_DB_STRZ(state), CR_DB_T(cr_time_now_ms() - age_ms)};
    assert_int_equal(
        cr_db_exec("INSERT INTO idempotency_keys (user_id, idem_key, endpoint, request_hash, "
                   "state, response_status, response_body, created_at) "
                   "VALUES (?, ?, 'charge', ?, ?, 200, '{\"old\":true}', ?)",
                   p, 5, NULL, NULL),
        0);
}

static void test_idempotency_row_lifecycle(void **state)
{
    struct cr_test_res r;
    char uid[CR_UUID_STRLEN], key[96];
    cr_test_new_user(uid);

    /* A request still running (fresh IN_PROGRESS): 409, nothing moves. */
    new_key(key, sizeof(key));
    plant_key(uid, key, "charge|amount=100", "IN_PROGRESS", 0);
    charge(&r, uid, "{\"amount\": 100}", key);
    cr_test_assert_error(&r, 409, "REQUEST_IN_PROGRESS");
    cr_test_res_free(&r);
    assert_int_equal(db_balance(uid), 0);

    /* One that died over 30 s ago is taken over and done once. */
    new_key(key, sizeof(key));
    plant_key(uid, key, "charge|amount=100", "IN_PROGRESS", 31000);
    assert_int_equal(charge(&r, uid, "{\"amount\": 100}", key), 200);
    assert_int_equal(cr_test_int(&r, "balance"), 100);
    cr_test_res_free(&r);
    assert_int_equal(charge(&r, uid, "{\"amount\": 100}", key), 200);
    assert_int_equal(cr_test_int(&r, "balance"), 100);
    cr_test_res_free(&r);
    assert_int_equal(db_balance(uid), 100);

    /* A recorded response is replayed verbatim within 24 h. */
    new_key(key, sizeof(key));
    plant_key(uid, key, "charge|amount=100", "DONE", 23LL * 3600 * 1000);
    assert_int_equal(charge(&r, uid, "{\"amount\": 100}", key), 200);
    assert_string_equal(r.body, "{\"old\":true}");
    cr_test_res_free(&r);
    assert_int_equal(db_balance(uid), 100);

    /* After 24 h the key is forgotten, even for another request. */
    new_key(key, sizeof(key));
    plant_key(uid, key, "charge|amount=5", "DONE", 24LL * 3600 * 1000 + 60000);
    assert_int_equal(charge(&r, uid, "{\"amount\": 100}", key), 200);
    assert_int_equal(cr_test_int(&r, "balance"), 200);
    cr_test_res_free(&r);
    assert_int_equal(db_balance(uid), 200);
    assert_int_equal(db_entries(uid), 2);

    /* The purge deletes only rows past 24 h. */
    new_key(key, sizeof(key));
    plant_key(uid, key, "charge|amount=5", "DONE", 25LL * 3600 * 1000);
    long long n = db_idem_rows(uid), deleted = 0;
    assert_int_equal(cr_idem_purge(100000, &deleted), 0);
    assert_true(deleted >= 1);
    assert_int_equal(db_idem_rows(uid), n - 1);
}

/* ---------------------------------------------------------------------------------------- */
/* History.                                                                                  */

struct hist_ctx {
    const char *uid;
    int failed;
};

static void hist_charge(int i, void *arg)
{
    struct hist_ctx *c = arg;
    struct cr_test_res r;
    char body[64];
    snprintf(body, sizeof(body), "{\"amount\": %d}", i + 1);
    if (charge(&r, c->uid, body, NULL) != 200)
        __atomic_add_fetch(&c->failed, 1, __ATOMIC_SEQ_CST);
    cr_test_res_free(&r);
}

static json_object *get_page(struct cr_test_res *r, const char *uid, const char *query)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/users/%s/balance/history%s", uid, query);
    assert_int_equal(cr_test_req(r, "GET", path, NULL, NULL), 200);
    json_object *entries;
    assert_true(json_object_object_get_ex(r->json, "entries", &entries));
    assert_true(json_object_is_type(entries, json_type_array));
    return entries;
}

static long long entry_int(json_object *e, const char *key)
{
    json_object *v;
    assert_true(json_object_object_get_ex(e, key, &v));
    assert_true(json_object_is_type(v, json_type_int));
    return json_object_get_int64(v);
}

static void test_history_paging(void **state)
{
    struct cr_test_res r;
    struct hist_ctx c = {0};
    char uid[CR_UUID_STRLEN];
    cr_test_new_user(uid);

    /* An empty history. */
    json_object *entries = get_page(&r, uid, "");
    assert_int_equal(json_object_array_length(entries), 0);
    json_object *next;
    assert_true(json_object_object_get_ex(r.json, "next", &next));
    assert_null(next);
    cr_test_res_free(&r);

    c.uid = uid;
    cr_test_parallel(16, 250, hist_charge, &c);
    assert_int_equal(c.failed, 0);
    assert_int_equal(db_entries(uid), 250);

    /* The ids in the database, newest first. */
    struct cr_db_rows rows;
    struct cr_db_val p[] = {CR_DB_I(db_user_id(uid))};
    assert_int_equal(cr_db_query(arena,
                                 "SELECT id, amount, balance_after FROM balance_entries "
                                 "WHERE user_id = ? ORDER BY id DESC",
                                 p, 1, &rows),
                     0);
    assert_int_equal(rows.nrows, 250);

    /* The default page is 20. */
    entries = get_page(&r, uid, "");
    assert_int_equal(json_object_array_length(entries), 20);
    cr_test_res_free(&r);

    char query[128] = "?limit=100";
    int seen = 0, pages = 0;
    long long amount_sum = 0;
    for (;;) {
        entries = get_page(&r, uid, query);
        size_t n = json_object_array_length(entries);
        pages++;
        for (size_t i = 0; i < n; i++) {
            json_object *e = json_object_array_get_idx(entries, i), *v;
            assert_true(seen < 250);
            assert_true(json_object_object_get_ex(e, "id", &v));
            assert_true(json_object_is_type(v, json_type_string));
            char want[32];
            snprintf(want, sizeof(want), "%lld", CR_DB_CELL(&rows, seen, 0)->i);
            assert_string_equal(json_object_get_string(v), want);
            assert_true(json_object_object_get_ex(e, "type", &v));
            assert_string_equal(json_object_get_string(v), "CHARGE");
            assert_int_equal(entry_int(e, "amount"), CR_DB_CELL(&rows, seen, 1)->i);
            assert_int_equal(entry_int(e, "balanceAfter"), CR_DB_CELL(&rows, seen, 2)->i);
            assert_true(json_object_object_get_ex(e, "createdAt", &v));
            int64_t ms;
            assert_int_equal(cr_time_parse(json_object_get_string(v), &ms), 0);
            amount_sum += entry_int(e, "amount");
            seen++;
        }
        assert_true(json_object_object_get_ex(r.json, "next", &next));
        if (next == NULL) {
            cr_test_res_free(&r);
            break;
        }
        assert_int_equal(n, 100);
        assert_true(json_object_is_type(next, json_type_string));
        /* next is the last entry's id. */
        json_object *last = json_object_array_get_idx(entries, n - 1), *lid;
        json_object_object_get_ex(last, "id", &lid);
        assert_string_equal(json_object_get_string(next), json_object_get_string(lid));
        snprintf(query, sizeof(query), "?limit=100&before=%s", json_object_get_string(next));
        cr_test_res_free(&r);
        assert_true(pages < 10);
    }
    assert_int_equal(pages, 3);
    assert_int_equal(seen, 250);
    assert_int_equal(amount_sum, 250 * 251 / 2); /* each of 1..250 exactly once */
    /* Newest first also means the balance after each entry falls page by page. */
    for (int i = 1; i < 250; i++)
        assert_true(CR_DB_CELL(&rows, i, 2)->i < CR_DB_CELL(&rows, i - 1, 2)->i);

    /* Exactly 100 left: the page is full and still the last one. */
    char q2[128];
    snprintf(q2, sizeof(q2), "?limit=100&before=%lld", CR_DB_CELL(&rows, 149, 0)->i);
    entries = get_page(&r, uid, q2);
    assert_int_equal(json_object_array_length(entries), 100);
    assert_true(json_object_object_get_ex(r.json, "next", &next));
    assert_null(next);
    cr_test_res_free(&r);
}

static void test_history_bad_params(void **state)
{
    static const char *bad[] = {"?limit=0",     "?limit=101",  "?limit=abc", "?limit=",
                                "?limit=-1",    "?limit=1.5",  "?limit=%2B5", "?before=0",
                                "?before=abc",  "?before=-5",  "?before=",   "?before=1e3",
                                "?before=99999999999999999999"};
    struct cr_test_res r;
    char uid[CR_UUID_STRLEN], path[256];
    cr_test_new_user(uid);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(path, sizeof(path), "/api/v1/users/%s/balance/history%s", uid, bad[i]);
        cr_test_req(&r, "GET", path, NULL, NULL);
        if (r.status != 400)
            print_error("query %s\n", bad[i]);
        cr_test_assert_error(&r, 400, "INVALID_REQUEST");
        cr_test_res_free(&r);
    }
    /* The edges are fine. */
    const char *good[] = {"?limit=1", "?limit=100", "?before=1", "?limit=5&before=9"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(path, sizeof(path), "/api/v1/users/%s/balance/history%s", uid, good[i]);
        assert_int_equal(cr_test_req(&r, "GET", path, NULL, NULL), 200);
        cr_test_res_free(&r);
    }
}

static int setup(void **state)
{
    arena = cr_arena_new();
    return arena == NULL;
}

static int teardown(void **state)
{
    cr_arena_free(arena);
    cr_db_close();
    return 0;
}

int main(void)
{
    cr_test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_user),
        cmocka_unit_test(test_balance_errors),
        cmocka_unit_test(test_charge),
        cmocka_unit_test(test_concurrent_charges_lose_nothing),
        cmocka_unit_test(test_idempotent_charge),
        cmocka_unit_test(test_limit_exceeded),
        cmocka_unit_test(test_bad_charges_change_nothing),
        cmocka_unit_test(test_idempotency_row_lifecycle),
        cmocka_unit_test(test_history_paging),
        cmocka_unit_test(test_history_bad_params),
    };
    return cmocka_run_group_tests_name("http_wallet", tests, setup, teardown);
}

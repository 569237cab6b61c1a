/* baseline.c: the benchmark's ceiling: a FastCGI program built on libcr exactly like the five
 * groups (cr_server_main's accept loop, a cr_route table through cr_dispatch, the per-request
 * arena, json-c responses, cr_db's cached prepared statements, cr_redis's context), whose
 * handlers do the least a request of each kind can do. bench/run serves it at /bench/ behind
 * the same nginx as the service, so every scenario is compared with a ceiling measured in the
 * same run, on the same machine, through the same front.
 *
 *   GET  /bench/b0       B0: a fixed JSON body, no I/O
 *   GET  /bench/b1       B1: one Redis GET
 *   GET  /bench/b2/{id}  B2: one MariaDB primary-key SELECT (prepared)
 *   POST /bench/b3       B3: one durable single-row UPDATE ... WHERE id = ? AND version = ?
 *                        (autocommit; the server runs innodb_flush_log_at_trx_commit=1)
 *
 * B3 updates a row of its own per worker process (taken on first use), so the statement
 * always matches and never waits for another worker's row lock: the ceiling of one durable
 * write, not of a contended one. Not installed; bench/run builds it with gcc. */
#include <stdio.h>
#include <string.h>

#include "cr_db.h"
#include "cr_error.h"
#include "cr_json.h"
#include "cr_redis.h"
#include "cr_route.h"
#include "cr_server.h"

static int b0(struct cr_req *req, struct cr_resp *resp)
{
    json_object *o = json_object_new_object();
    cr_json_add_str(o, "status", "ok");
    return cr_resp_json(req, resp, 200, o);
}

static int b1(struct cr_req *req, struct cr_resp *resp)
{
    redisReply *r = NULL;
    int rc = cr_redis_cmd(req->arena, &r, "GET %s", "bench:b1");
    if (rc != CR_OK)
        return rc;
    json_object *o = json_object_new_object();
    cr_json_add_str(o, "value", r->type == REDIS_REPLY_STRING ? r->str : NULL);
    return cr_resp_json(req, resp, 200, o);
}

static int b2(struct cr_req *req, struct cr_resp *resp)
{
    struct cr_db_rows rows;
    long long id;
    int rc;
    if ((rc = cr_req_param_id(req, 0, "id", &id)) != CR_OK)
        return rc;
    struct cr_db_val p[] = {CR_DB_I(id)};
    if ((rc = cr_db_query(req->arena, "SELECT id, version, val FROM bench_rows WHERE id = ?", p,
                          1, &rows)) != CR_OK)
        return rc;
    if (rows.nrows == 0)
        return CR_E_NOT_FOUND;
    json_object *o = json_object_new_object();
    cr_json_add_int(o, "id", CR_DB_CELL(&rows, 0, 0)->i);
    cr_json_add_int(o, "version", CR_DB_CELL(&rows, 0, 1)->i);
    cr_json_add_int(o, "val", CR_DB_CELL(&rows, 0, 2)->i);
    return cr_resp_json(req, resp, 200, o);
}

static long long b3_row, b3_version;

static int b3(struct cr_req *req, struct cr_resp *resp)
{
    long long affected = 0;
    int rc;
    if (b3_row == 0) {
        if ((rc = cr_db_exec("INSERT INTO bench_rows (version, val) VALUES (0, 0)", NULL, 0, NULL,
                             &b3_row)) != CR_OK)
            return rc;
        b3_version = 0;
    }
    struct cr_db_val p[] = {CR_DB_I(b3_row), CR_DB_I(b3_version)};
    if ((rc = cr_db_exec("UPDATE bench_rows SET version = version + 1, val = val + 1"
                         " WHERE id = ? AND version = ?",
                         p, 2, &affected, NULL)) != CR_OK)
        return rc;
    if (affected != 1) {
        b3_row = 0; /* somebody touched our row: take a fresh one next time */
        return CR_E_SEAT_UNAVAILABLE;
    }
    b3_version++;
    json_object *o = json_object_new_object();
    cr_json_add_int(o, "id", b3_row);
    cr_json_add_int(o, "version", b3_version);
    return cr_resp_json(req, resp, 200, o);
}

static const struct cr_route bench_routes[] = {
    {"GET", "/bench/b0", CR_TOKEN_NONE, CR_BODY_NONE, b0},
    {"GET", "/bench/b1", CR_TOKEN_NONE, CR_BODY_NONE, b1},
    {"GET", "/bench/b2/{id}", CR_TOKEN_NONE, CR_BODY_NONE, b2},
    {"POST", "/bench/b3", CR_TOKEN_NONE, CR_BODY_NONE, b3},
    {"GET", "/healthz", CR_TOKEN_NONE, CR_BODY_NONE, cr_health_handler},
};

int main(void)
{
    return cr_server_main("bench", bench_routes, sizeof(bench_routes) / sizeof(bench_routes[0]));
}

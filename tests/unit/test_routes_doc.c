/* test_routes_doc.c: docs/openapi.yaml names exactly the routes the five groups serve.
 *
 * The five route tables are compiled into this test (src/<group>/routes.c); the document is
 * read with a line scanner that knows only the shape docs/openapi.yaml is written in:
 *
 *     paths:
 *       /api/v1/users/{userId}/balance:
 *         get:
 *
 * (a path: two spaces, "/...", ":"; a method: four spaces, a lower-case HTTP method, ":").
 * Fails when a table's route (method + pattern, /healthz included) is missing from the
 * document, when the document names a route no table serves, or when the document strays
 * from the contract's 17 endpoints (../shared/API.md). The document is found at
 * $CR_SRC_DIR/docs/openapi.yaml, else under the source dir compiled in. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_route.h"
#include "../../src/concert/routes.h"
#include "../../src/payment/routes.h"
#include "../../src/queue/routes.h"
#include "../../src/reservation/routes.h"
#include "../../src/wallet/routes.h"

#ifndef CR_DOC_SRC_DIR
#define CR_DOC_SRC_DIR "."
#endif

#define MAX_OPS 128
#define MAX_TEXT 256

struct op {
    char method[16]; /* upper case, as in the route tables */
    char path[MAX_TEXT];
    const char *where; /* group name, or "docs/openapi.yaml" */
    int line;
};

struct group {
    const char *name;
    const struct cr_route *routes;
    const size_t *n;
};

static const struct group groups[] = {
    {"queue", queue_routes, &queue_nroutes},
    {"concert", concert_routes, &concert_nroutes},
    {"reservation", reservation_routes, &reservation_nroutes},
    {"wallet", wallet_routes, &wallet_nroutes},
    {"payment", payment_routes, &payment_nroutes},
};
#define NGROUPS (sizeof(groups) / sizeof(groups[0]))

/* The contract's endpoints, ../shared/API.md 1-17. */
static const char *const contract[][2] = {
    {"POST", "/api/v1/users"},
    {"GET", "/api/v1/users/{userId}/balance"},
    {"POST", "/api/v1/users/{userId}/balance/charge"},
    {"GET", "/api/v1/users/{userId}/balance/history"},
    {"POST", "/api/v1/queue/tokens"},
    {"GET", "/api/v1/queue/tokens/current"},
    {"DELETE", "/api/v1/queue/tokens/current"},
    {"GET", "/api/v1/concerts"},
    {"GET", "/api/v1/concerts/{concertId}/schedules"},
    {"GET", "/api/v1/schedules/{scheduleId}/seats"},
    {"POST", "/api/v1/reservations"},
    {"GET", "/api/v1/reservations/{reservationId}"},
    {"DELETE", "/api/v1/reservations/{reservationId}"},
    {"POST", "/api/v1/payments"},
    {"GET", "/api/v1/users/{userId}/payments"},
    {"GET", "/healthz"},
    {"POST", "/api/v1/reservations/{reservationId}/refund"},
};
#define NCONTRACT (sizeof(contract) / sizeof(contract[0]))

static struct op doc_ops[MAX_OPS];
static int ndoc;
static char doc_file[1024];

static int find_op(const struct op *ops, int n, const char *method, const char *path)
{
    for (int i = 0; i < n; i++)
        if (strcmp(ops[i].method, method) == 0 && strcmp(ops[i].path, path) == 0)
            return i;
    return -1;
}

static int is_http_method(const char *m)
{
    static const char *const methods[] = {"get", "put", "post", "delete",
                                          "options", "head", "patch", "trace"};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcmp(m, methods[i]) == 0)
            return 1;
    return 0;
}

/* Strips the line end and trailing blanks in place; returns the length left. */
static size_t rstrip(char *s)
{
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        s[--len] = '\0';
    return len;
}

/* Reads the document's paths section into doc_ops. Returns 0, or -1 (with a message) when
 * the file cannot be read or has no paths section. */
static int load_doc(void)
{
    const char *dir = getenv("CR_SRC_DIR");
    if (dir == NULL || dir[0] == '\0')
        dir = CR_DOC_SRC_DIR;
    snprintf(doc_file, sizeof(doc_file), "%s/docs/openapi.yaml", dir);
    FILE *f = fopen(doc_file, "r");
    if (f == NULL) {
        print_error("cannot open %s (set CR_SRC_DIR to the source tree)\n", doc_file);
        return -1;
    }
    char line[1024], path[MAX_TEXT] = "";
    int in_paths = 0, seen_paths = 0, lineno = 0;
    ndoc = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        size_t len = rstrip(line);
        if (len == 0 || line[0] == '#')
            continue;
        if (!isspace((unsigned char)line[0])) { /* a top-level key */
            in_paths = strcmp(line, "paths:") == 0;
            seen_paths |= in_paths;
            path[0] = '\0';
            continue;
        }
        if (!in_paths)
            continue;
        if (strncmp(line, "  /", 3) == 0 && line[len - 1] == ':') {
            /* "  /api/v1/x:" (maybe quoted) */
            char *p = line + 2;
            line[len - 1] = '\0';
            size_t plen = strlen(p);
            if (plen >= 2 && (p[0] == '\'' || p[0] == '"') && p[plen - 1] == p[0]) {
                p[plen - 1] = '\0';
                p++;
            }
            if (strlen(p) >= sizeof(path)) {
                print_error("%s:%d: path too long\n", doc_file, lineno);
                fclose(f);
                return -1;
            }
            memcpy(path, p, strlen(p) + 1);
            continue;
        }
        if (strncmp(line, "    ", 4) == 0 && !isspace((unsigned char)line[4]) &&
            line[len - 1] == ':' && path[0] != '\0') {
            char m[16];
            size_t mlen = len - 5;
            if (mlen == 0 || mlen >= sizeof(m))
                continue;
            memcpy(m, line + 4, mlen);
            m[mlen] = '\0';
            if (!is_http_method(m))
                continue; /* "parameters:", "summary:" ... at path level */
            if (ndoc == MAX_OPS) {
                print_error("%s: more than %d operations\n", doc_file, MAX_OPS);
                fclose(f);
                return -1;
            }
            struct op *o = &doc_ops[ndoc++];
            for (size_t i = 0; i <= mlen; i++)
                o->method[i] = (char)toupper((unsigned char)m[i]);
            memcpy(o->path, path, sizeof(o->path));
            o->where = "docs/openapi.yaml";
            o->line = lineno;
        }
    }
    fclose(f);
    if (!seen_paths) {
        print_error("%s: no top-level 'paths:' section\n", doc_file);
        return -1;
    }
    return 0;
}

static int setup_doc(void **state)
{
    return load_doc();
}

/* The scanner found the document's operations, each once. */
static void test_doc_scanned(void **state)
{
    print_message("%s: %d operations\n", doc_file, ndoc);
    assert_true(ndoc > 0);
    int dups = 0;
    for (int i = 0; i < ndoc; i++)
        if (find_op(doc_ops, i, doc_ops[i].method, doc_ops[i].path) >= 0) {
            print_error("%s:%d: %s %s is named twice\n", doc_file, doc_ops[i].line,
                        doc_ops[i].method, doc_ops[i].path);
            dups++;
        }
    assert_int_equal(dups, 0);
}

/* Every route of every group's table is in the document. */
static void test_routes_documented(void **state)
{
    int missing = 0, total = 0;
    for (size_t g = 0; g < NGROUPS; g++)
        for (size_t i = 0; i < *groups[g].n; i++) {
            const struct cr_route *r = &groups[g].routes[i];
            total++;
            if (find_op(doc_ops, ndoc, r->method, r->pattern) < 0) {
                print_error("route %s %s of group %s is missing from %s\n", r->method,
                            r->pattern, groups[g].name, doc_file);
                missing++;
            }
        }
    print_message("%d routes in %zu tables, %d missing from the document\n", total, NGROUPS,
                  missing);
    assert_int_equal(missing, 0);
}

/* Every operation of the document is served by some group. */
static void test_doc_routes_served(void **state)
{
    int unserved = 0;
    for (int d = 0; d < ndoc; d++) {
        int found = 0;
        for (size_t g = 0; g < NGROUPS && !found; g++)
            for (size_t i = 0; i < *groups[g].n && !found; i++)
                found = strcmp(groups[g].routes[i].method, doc_ops[d].method) == 0 &&
                        strcmp(groups[g].routes[i].pattern, doc_ops[d].path) == 0;
        if (!found) {
            print_error("%s:%d: %s %s is served by no group's route table\n", doc_file,
                        doc_ops[d].line, doc_ops[d].method, doc_ops[d].path);
            unserved++;
        }
    }
    assert_int_equal(unserved, 0);
}

/* The document names exactly the contract's 17 endpoints. */
static void test_doc_matches_contract(void **state)
{
    int bad = 0;
    for (size_t c = 0; c < NCONTRACT; c++)
        if (find_op(doc_ops, ndoc, contract[c][0], contract[c][1]) < 0) {
            print_error("API.md endpoint %zu (%s %s) is missing from %s\n", c + 1, contract[c][0],
                        contract[c][1], doc_file);
            bad++;
        }
    for (int d = 0; d < ndoc; d++) {
        int found = 0;
        for (size_t c = 0; c < NCONTRACT && !found; c++)
            found = strcmp(contract[c][0], doc_ops[d].method) == 0 &&
                    strcmp(contract[c][1], doc_ops[d].path) == 0;
        if (!found) {
            print_error("%s:%d: %s %s is not in API.md\n", doc_file, doc_ops[d].line,
                        doc_ops[d].method, doc_ops[d].path);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

/* Every group answers GET /healthz (API.md 16). */
static void test_every_group_has_health(void **state)
{
    int bad = 0;
    for (size_t g = 0; g < NGROUPS; g++) {
        int found = 0;
        for (size_t i = 0; i < *groups[g].n && !found; i++)
            found = strcmp(groups[g].routes[i].method, "GET") == 0 &&
                    strcmp(groups[g].routes[i].pattern, "/healthz") == 0;
        if (!found) {
            print_error("group %s does not serve GET /healthz\n", groups[g].name);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doc_scanned),
        cmocka_unit_test(test_routes_documented),
        cmocka_unit_test(test_doc_routes_served),
        cmocka_unit_test(test_doc_matches_contract),
        cmocka_unit_test(test_every_group_has_health),
    };
    return cmocka_run_group_tests(tests, setup_doc, NULL);
}

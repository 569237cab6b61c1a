/* cr_config.c: the table of known keys with their defaults, the file parser, env overrides. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_config.h"
#include "cr_error.h"

struct cr_config_key {
    const char *name;
    const char *def;
    char *value; /* malloc'd; NULL means the default */
};

/* Every key, its default and (in README.md) its meaning. Keep both in step. */
static struct cr_config_key cr_keys[] = {
    {"HTTP_PORT", "8080", NULL},
    {"DB_SOCKET", "", NULL},
    {"DB_HOST", "127.0.0.1", NULL},
    {"DB_PORT", "3306", NULL},
    {"DB_USER", "concert", NULL},
    {"DB_PASSWORD", "", NULL},
    {"DB_NAME", "concert", NULL},
    {"DB_HOSTS", "", NULL},
    {"REDIS_SOCKET", "", NULL},
    {"REDIS_HOST", "127.0.0.1", NULL},
    {"REDIS_PORT", "6379", NULL},
    {"REDIS_TIMEOUT_MS", "1000", NULL},
    {"REDIS_SENTINELS", "", NULL},
    {"REDIS_MASTER_NAME", "concert", NULL},
    {"REDIS_PASSWORD", "", NULL},
    {"LOG_FILE", "", NULL},
    {"LOG_LEVEL", "info", NULL},
    {"LOG_DIR", "", NULL},
    {"METRICS_DIR", "", NULL},
    {"OPS_ALLOW", "127.0.0.0/8 ::1", NULL},
    {"ALERT_WEBHOOK_URL", "", NULL},
    {"WORKERS_PER_GROUP", "2", NULL},
    {"QUEUE_MODE", "redis", NULL},
    {"QUEUE_ACTIVE_MAX", "100", NULL},
    {"QUEUE_ACTIVE_TTL", "600", NULL},
    {"QUEUE_WAIT_IDLE_TTL", "60", NULL},
    {"QUEUE_ADMIT_PER_SECOND", "50", NULL},
    {"QUEUE_TOKEN_KEYS", "", NULL},
    {"RESERVATION_HOLD_SECONDS", "300", NULL},
    {"RESERVATION_MAX_HOLDS", "4", NULL},
    {"REFUND_DEADLINE_HOURS", "24", NULL},
    {"BALANCE_MAX", "1000000000", NULL},
    {"RETRY_AFTER_SECONDS", "1", NULL},
    /* The time budget, innermost first; cr_db_budget_check() wants each below the next. */
    {"DB_LOCK_WAIT_SECONDS", "2", NULL},
    {"DB_STATEMENT_SECONDS", "3", NULL},
    {"DB_READ_TIMEOUT_SECONDS", "4", NULL},
    {"REQUEST_TIMEOUT_SECONDS", "10", NULL},
    {"TEST_FAIL_HISTORY", "0", NULL},
    /* nginx's limits: scripts/lib.sh (CR_NGINX_LIMITS) renders them into nginx.conf with these
     * same defaults; listed here so that the workers accept the file that holds them. */
    {"RATE_LIMIT_TOKENS", "100", NULL},
    {"RATE_BURST_TOKENS", "100", NULL},
    {"RATE_LIMIT_USERS", "100", NULL},
    {"RATE_BURST_USERS", "100", NULL},
    {"RATE_LIMIT_CHARGES", "100", NULL},
    {"RATE_BURST_CHARGES", "100", NULL},
    {"RATE_LIMIT_HOLDS", "100", NULL},
    {"RATE_BURST_HOLDS", "100", NULL},
    {"RATE_LIMIT_PAYMENTS", "100", NULL},
    {"RATE_BURST_PAYMENTS", "100", NULL},
    {"RATE_LIMIT_API", "1000", NULL},
    {"RATE_BURST_API", "500", NULL},
    {"RATE_LIMIT_HEALTH", "100", NULL},
    {"RATE_BURST_HEALTH", "100", NULL},
    {"CONN_LIMIT", "128", NULL},
    {"CLIENT_TIMEOUT_SECONDS", "5", NULL},
    {"KEEPALIVE_TIMEOUT_SECONDS", "15", NULL},
};

#define CR_NKEYS (sizeof(cr_keys) / sizeof(cr_keys[0]))

static struct cr_config_key *cr_config_find(const char *name, size_t len)
{
    for (size_t i = 0; i < CR_NKEYS; i++)
        if (strlen(cr_keys[i].name) == len && memcmp(cr_keys[i].name, name, len) == 0)
            return &cr_keys[i];
    return NULL;
}

static void cr_config_put(struct cr_config_key *k, const char *v, size_t len)
{
    free(k->value);
    k->value = strndup(v, len);
    if (k->value == NULL)
        abort();
}

int cr_config_set(const char *key, const char *value)
{
    struct cr_config_key *k = cr_config_find(key, strlen(key));
    if (k == NULL)
        return CR_E_INVALID;
    cr_config_put(k, value, strlen(value));
    return CR_OK;
}

static char *cr_trim(char *s, char **end)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    *end = e;
    return s;
}

static int cr_config_read_file(const char *path, char *errbuf, int errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(errbuf, (size_t)errlen, "%s: %s", path, strerror(errno));
        return CR_E_INVALID;
    }
    char line[1024];
    int lineno = 0, rc = CR_OK;
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        char *end, *s = cr_trim(line, &end);
        if (s == end || *s == '#')
            continue;
        char *eq = memchr(s, '=', (size_t)(end - s));
        if (eq == NULL) {
            snprintf(errbuf, (size_t)errlen, "%s:%d: expected KEY=VALUE", path, lineno);
            rc = CR_E_INVALID;
            break;
        }
        char *kend = eq;
        while (kend > s && isspace((unsigned char)kend[-1]))
            kend--;
        struct cr_config_key *k = cr_config_find(s, (size_t)(kend - s));
        if (k == NULL) {
            snprintf(errbuf, (size_t)errlen, "%s:%d: unknown key %.*s", path, lineno,
                     (int)(kend - s), s);
            rc = CR_E_INVALID;
            break;
        }
        char *vend, *v = cr_trim(eq + 1, &vend);
        cr_config_put(k, v, (size_t)(vend - v));
    }
    fclose(f);
    return rc;
}

int cr_config_load(const char *path, char *errbuf, int errlen)
{
    for (size_t i = 0; i < CR_NKEYS; i++) {
        free(cr_keys[i].value);
        cr_keys[i].value = NULL;
    }
    if (path == NULL) {
        path = getenv("CONCERT_CONFIG");
        if (path != NULL && *path == '\0')
            path = NULL;
    }
    if (path != NULL) {
        int rc = cr_config_read_file(path, errbuf, errlen);
        if (rc != CR_OK)
            return rc;
    }
    for (size_t i = 0; i < CR_NKEYS; i++) {
        const char *env = getenv(cr_keys[i].name);
        if (env != NULL)
            cr_config_put(&cr_keys[i], env, strlen(env));
    }
    return CR_OK;
}

const char *cr_config_get(const char *key)
{
    struct cr_config_key *k = cr_config_find(key, strlen(key));
    if (k == NULL)
        return NULL;
    return k->value != NULL ? k->value : k->def;
}

long long cr_config_int(const char *key)
{
    struct cr_config_key *k = cr_config_find(key, strlen(key));
    if (k == NULL)
        return 0;
    const char *v = k->value != NULL ? k->value : k->def;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0')
        n = strtoll(k->def, NULL, 10);
    return n;
}

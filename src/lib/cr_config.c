/* cr_config.c: the table of known keys with their defaults, the file parser, env overrides. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_config.h"
#include "cr_error.h"

struct cr_config_key {
    const char *name;
    const char *def;
    char *value; /* malloc'd; NULL means the default */
    long long num; /* cr_config_int's answer, parsed on first use (num_ok) */
    int num_ok;
};

/* Every key, its default and (in README.md) its meaning. Keep both in step. */
static struct cr_config_key cr_keys[] = {
    {"HTTP_PORT", "8080", NULL, 0, 0},
    {"DB_SOCKET", "", NULL, 0, 0},
    {"DB_HOST", "127.0.0.1", NULL, 0, 0},
    {"DB_PORT", "3306", NULL, 0, 0},
    {"DB_USER", "concert", NULL, 0, 0},
    {"DB_PASSWORD", "", NULL, 0, 0},
    {"DB_NAME", "concert", NULL, 0, 0},
    {"DB_HOSTS", "", NULL, 0, 0},
    {"REDIS_SOCKET", "", NULL, 0, 0},
    {"REDIS_HOST", "127.0.0.1", NULL, 0, 0},
    {"REDIS_PORT", "6379", NULL, 0, 0},
    {"REDIS_TIMEOUT_MS", "1000", NULL, 0, 0},
    {"REDIS_SENTINELS", "", NULL, 0, 0},
    {"REDIS_MASTER_NAME", "concert", NULL, 0, 0},
    {"REDIS_PASSWORD", "", NULL, 0, 0},
    {"LOG_FILE", "", NULL, 0, 0},
    {"LOG_LEVEL", "info", NULL, 0, 0},
    {"LOG_DIR", "", NULL, 0, 0},
    {"METRICS_DIR", "", NULL, 0, 0},
    {"OPS_ALLOW", "127.0.0.0/8 ::1", NULL, 0, 0},
    {"ALERT_WEBHOOK_URL", "", NULL, 0, 0},
    {"WORKERS_PER_GROUP", "2", NULL, 0, 0},
    {"QUEUE_MODE", "redis", NULL, 0, 0},
    {"QUEUE_ACTIVE_MAX", "100", NULL, 0, 0},
    {"QUEUE_ACTIVE_TTL", "600", NULL, 0, 0},
    {"QUEUE_WAIT_IDLE_TTL", "60", NULL, 0, 0},
    {"QUEUE_ADMIT_PER_SECOND", "50", NULL, 0, 0},
    {"QUEUE_TOKEN_KEYS", "", NULL, 0, 0},
    {"RESERVATION_HOLD_SECONDS", "300", NULL, 0, 0},
    {"RESERVATION_MAX_HOLDS", "4", NULL, 0, 0},
    {"REFUND_DEADLINE_HOURS", "24", NULL, 0, 0},
    {"BALANCE_MAX", "1000000000", NULL, 0, 0},
    {"RETRY_AFTER_SECONDS", "1", NULL, 0, 0},
    /* The time budget, innermost first; cr_db_budget_check() wants each below the next. */
    {"DB_LOCK_WAIT_SECONDS", "2", NULL, 0, 0},
    {"DB_STATEMENT_SECONDS", "3", NULL, 0, 0},
    {"DB_READ_TIMEOUT_SECONDS", "4", NULL, 0, 0},
    {"REQUEST_TIMEOUT_SECONDS", "10", NULL, 0, 0},
    {"TEST_FAIL_HISTORY", "0", NULL, 0, 0},
    /* nginx's limits: scripts/lib.sh (CR_NGINX_LIMITS) renders them into nginx.conf with these
     * same defaults; listed here so that the workers accept the file that holds them. */
    {"RATE_LIMIT_TOKENS", "100", NULL, 0, 0},
    {"RATE_BURST_TOKENS", "100", NULL, 0, 0},
    {"RATE_LIMIT_USERS", "100", NULL, 0, 0},
    {"RATE_BURST_USERS", "100", NULL, 0, 0},
    {"RATE_LIMIT_CHARGES", "100", NULL, 0, 0},
    {"RATE_BURST_CHARGES", "100", NULL, 0, 0},
    {"RATE_LIMIT_HOLDS", "100", NULL, 0, 0},
    {"RATE_BURST_HOLDS", "100", NULL, 0, 0},
    {"RATE_LIMIT_PAYMENTS", "100", NULL, 0, 0},
    {"RATE_BURST_PAYMENTS", "100", NULL, 0, 0},
    {"RATE_LIMIT_API", "1000", NULL, 0, 0},
    {"RATE_BURST_API", "500", NULL, 0, 0},
    {"RATE_LIMIT_HEALTH", "100", NULL, 0, 0},
    {"RATE_BURST_HEALTH", "100", NULL, 0, 0},
    {"CONN_LIMIT", "128", NULL, 0, 0},
    {"CLIENT_TIMEOUT_SECONDS", "5", NULL, 0, 0},
    {"KEEPALIVE_TIMEOUT_SECONDS", "15", NULL, 0, 0},
};

#define CR_NKEYS (sizeof(cr_keys) / sizeof(cr_keys[0]))

static struct cr_config_key *cr_config_find(const char *name, size_t len)
{
    for (size_t i = 0; i < CR_NKEYS; i++)
        if (cr_keys[i].name[0] == name[0] && strncmp(cr_keys[i].name, name, len) == 0 &&
            cr_keys[i].name[len] == '\0')
            return &cr_keys[i];
    return NULL;
}

/* A key asked for by name: the hot paths ask for a few literals many times a request (a
 * queue join, 28 times), so the entry last found at each literal's address is kept and
 * checked with one strcmp (the address alone could be a reused buffer). Per thread: the test
 * clients read the configuration from several. */
static struct cr_config_key *cr_config_lookup(const char *key)
{
    static _Thread_local const char *seen[32];
    static _Thread_local struct cr_config_key *found[32];
    size_t h = ((uintptr_t)key >> 3) % 32;
    if (seen[h] == key && found[h] != NULL && strcmp(found[h]->name, key) == 0)
        return found[h];
    struct cr_config_key *k = cr_config_find(key, strlen(key));
    if (k != NULL) {
        seen[h] = key;
        found[h] = k;
    }
    return k;
}

static void cr_config_put(struct cr_config_key *k, const char *v, size_t len)
{
    free(k->value);
    k->num_ok = 0;
    k->value = strndup(v, len);
    if (k->value == NULL)
        abort();
}

int cr_config_set(const char *key, const char *value)
{
    struct cr_config_key *k = cr_config_lookup(key);
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
        cr_keys[i].num_ok = 0;
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
    struct cr_config_key *k = cr_config_lookup(key);
    if (k == NULL)
        return NULL;
    return k->value != NULL ? k->value : k->def;
}

long long cr_config_int(const char *key)
{
    struct cr_config_key *k = cr_config_lookup(key);
    if (k == NULL)
        return 0;
    if (k->num_ok)
        return k->num;
    const char *v = k->value != NULL ? k->value : k->def;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0')
        n = strtoll(k->def, NULL, 10);
    k->num = n;
    k->num_ok = 1;
    return n;
}

/* bare.c: the bare ceilings under B0-B2: a FastCGI program on libfcgi, hiredis and libmariadb
 * alone (none of libcr: no router, arena, json-c, logging, time budget or stale-connection
 * check), served by bench/run at /bare/ behind an nginx location without the JSON access log.
 * What B0-B2 cost beyond these rows is what the framework and the front cost.
 *
 *   GET /bare/hello       a fixed body
 *   GET /bare/get         one Redis GET bench:b1
 *   GET /bare/select/ID   one prepared primary-key SELECT of bench_rows (as B2)
 *
 * It reads DB_SOCKET, DB_USER, DB_PASSWORD, DB_NAME and REDIS_SOCKET from $CONCERT_CONFIG.
 * Not installed; bench/run builds it with gcc. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>
#include <hiredis/hiredis.h>
#include <mysql.h>

static char conf_db_socket[512], conf_db_user[128] = "concert", conf_db_password[256],
    conf_db_name[128] = "concert", conf_redis_socket[512];

static void read_conf(void)
{
    const char *path = getenv("CONCERT_CONFIG");
    char line[1024];
    FILE *f = path != NULL ? fopen(path, "r") : NULL;
    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        char *eq = strchr(line, '=');
        if (line[0] == '#' || eq == NULL)
            continue;
        *eq = '\0';
        const char *v = eq + 1;
        if (strcmp(line, "DB_SOCKET") == 0)
            snprintf(conf_db_socket, sizeof(conf_db_socket), "%s", v);
        else if (strcmp(line, "DB_USER") == 0)
            snprintf(conf_db_user, sizeof(conf_db_user), "%s", v);
        else if (strcmp(line, "DB_PASSWORD") == 0)
            snprintf(conf_db_password, sizeof(conf_db_password), "%s", v);
        else if (strcmp(line, "DB_NAME") == 0)
            snprintf(conf_db_name, sizeof(conf_db_name), "%s", v);
        else if (strcmp(line, "REDIS_SOCKET") == 0)
            snprintf(conf_redis_socket, sizeof(conf_redis_socket), "%s", v);
    }
    fclose(f);
}

static redisContext *redis;
static MYSQL *db;
static MYSQL_STMT *stmt;

static int bare_get(char *out, size_t cap)
{
    if (redis == NULL || redis->err) {
        if (redis != NULL)
            redisFree(redis);
        redis = redisConnectUnix(conf_redis_socket);
        if (redis == NULL || redis->err)
            return -1;
    }
    redisReply *r = redisCommand(redis, "GET bench:b1");
    if (r == NULL)
        return -1;
    snprintf(out, cap, "%s", r->type == REDIS_REPLY_STRING ? r->str : "null");
    freeReplyObject(r);
    return 0;
}

static int bare_select(long long id, char *out, size_t cap)
{
    if (db == NULL) {
        db = mysql_init(NULL);
        if (mysql_real_connect(db, "localhost", conf_db_user, conf_db_password, conf_db_name, 0,
                               conf_db_socket, 0) == NULL) {
            mysql_close(db);
            db = NULL;
            return -1;
        }
        static const char sql[] = "SELECT id, version, val FROM bench_rows WHERE id = ?";
        stmt = mysql_stmt_init(db);
        if (mysql_stmt_prepare(stmt, sql, strlen(sql)) != 0)
            return -1;
    }
    MYSQL_BIND p, res[3];
    long long rid = 0, version = 0, val = 0;
    memset(&p, 0, sizeof(p));
    memset(res, 0, sizeof(res));
    p.buffer_type = MYSQL_TYPE_LONGLONG;
    p.buffer = &id;
    res[0].buffer_type = MYSQL_TYPE_LONGLONG;
    res[0].buffer = &rid;
    res[1].buffer_type = MYSQL_TYPE_LONGLONG;
    res[1].buffer = &version;
    res[2].buffer_type = MYSQL_TYPE_LONGLONG;
    res[2].buffer = &val;
    if (mysql_stmt_bind_param(stmt, &p) != 0 || mysql_stmt_execute(stmt) != 0 ||
        mysql_stmt_bind_result(stmt, res) != 0 || mysql_stmt_store_result(stmt) != 0)
        return -1;
    int found = mysql_stmt_fetch(stmt) == 0;
    mysql_stmt_free_result(stmt);
    if (!found)
        return 1;
    snprintf(out, cap, "{\"id\":%lld,\"version\":%lld,\"val\":%lld}", rid, version, val);
    return 0;
}

int main(void)
{
    FCGX_Request req;
    char body[512];
    read_conf();
    FCGX_Init();
    FCGX_InitRequest(&req, 0, 0);
    while (FCGX_Accept_r(&req) >= 0) {
        const char *uri = FCGX_GetParam("DOCUMENT_URI", req.envp);
        int status = 200, rc = 0;
        if (uri == NULL)
            uri = "";
        if (strcmp(uri, "/bare/hello") == 0) {
            snprintf(body, sizeof(body), "{\"status\":\"ok\"}");
        } else if (strcmp(uri, "/bare/get") == 0) {
            char v[256];
            rc = bare_get(v, sizeof(v));
            snprintf(body, sizeof(body), "{\"value\":%s}", v);
        } else if (strncmp(uri, "/bare/select/", 13) == 0) {
            rc = bare_select(atoll(uri + 13), body, sizeof(body));
            if (rc == 1)
                status = 404, rc = 0, snprintf(body, sizeof(body), "{}");
        } else {
            status = 404;
            snprintf(body, sizeof(body), "{}");
        }
        if (rc != 0) {
            status = 503;
            snprintf(body, sizeof(body), "{}");
        }
        FCGX_FPrintF(req.out, "Status: %d\r\nContent-Type: application/json\r\n\r\n%s", status,
                     body);
        FCGX_Finish_r(&req);
    }
    return 0;
}

/* cr_redis.h: the process's Redis context: commands with timeouts, reconnection, and Lua
 * scripts run by SHA with a fallback to the source. */
#ifndef CR_REDIS_H
#define CR_REDIS_H

#include <stddef.h>
#include <hiredis/hiredis.h>

#include "cr_arena.h"

/* A Lua script; sha is filled on first use. Define one static instance per script. */
struct cr_redis_script {
    const char *source;
    char sha[41];
};

/* Runs a command built from argv. On CR_OK *reply is set and is owned by the arena (freed at
 * its reset). A Redis error reply is CR_E_INTERNAL (logged); a dead connection is retried
 * once on a new one, then CR_E_UNAVAILABLE. */
int cr_redis_argv(struct cr_arena *a, redisReply **reply, int argc, const char **argv,
                  const size_t *argvlen);
/* printf-style convenience over cr_redis_argv, with hiredis's format (%s, %b, %lld...). */
int cr_redis_cmd(struct cr_arena *a, redisReply **reply, const char *fmt, ...);
/* Makes fmt (as cr_redis_cmd's) a rider: sent in the same write as the next command of this
 * request (cr_redis_cmd, cr_redis_argv or cr_redis_eval), its reply read after that one's, so
 * the two cost one round trip. cr_redis_ridden(a, tag, &reply) then takes the reply (CR_OK,
 * owned by the arena) when the rider was sent and tag is the one given here; otherwise
 * CR_E_NOT_FOUND, and the caller sends the command itself. Either way the rider is gone after
 * cr_redis_ridden, and at the arena's reset. One rider at a time: a second replaces the first. */
void cr_redis_ride(struct cr_arena *a, const char *tag, const char *fmt, ...);
int cr_redis_ridden(struct cr_arena *a, const char *tag, redisReply **reply);

/* The command cr_redis_cmd sends for fmt: byte for byte what hiredis's redisFormatCommand
 * makes, formatted without it for %s, %b, %d, %lld and %% (hiredis's costs a vsnprintf and an
 * sds growth per argument). *cmd is malloc'd (redisFreeCommand); the length, or -1. */
long long cr_redis_format(char **cmd, const char *fmt, ...);

/* EVALSHA script with nkeys keys then the other args (argc counts both). Loads the script on
 * NOSCRIPT. Same ownership and codes as cr_redis_argv. */
int cr_redis_eval(struct cr_arena *a, redisReply **reply, struct cr_redis_script *script,
                  int nkeys, int argc, const char **argv);

/* A command that a Redis module adds (COMMAND argv...): CR_E_NOT_FOUND when this Redis does not
 * know it (the caller has another way), else as cr_redis_argv. */
int cr_redis_native(struct cr_arena *a, redisReply **reply, const char *command, int argc,
                    const char **argv);

/* PING, connecting first when needed. */
int cr_redis_ping(void);
/* Frees the context; the next call reconnects. */
void cr_redis_close(void);

/* The pure parts of finding the primary through Sentinels (REDIS_SENTINELS), for tests. */

/* Parses the next "host:port" of a comma-separated list at *list and moves *list past it:
 * 1 with host (NUL-terminated, fits hostlen) and port set, 0 at the end, CR_E_INVALID for a
 * malformed entry (skipped: the next call reads the one after it). */
int cr_redis_addr_next(const char **list, char *host, size_t hostlen, int *port);
/* The reply of SENTINEL get-master-addr-by-name: CR_OK with host and port, else
 * CR_E_UNAVAILABLE (a nil reply: the Sentinel does not know the name). */
int cr_redis_master_addr(const redisReply *r, char *host, size_t hostlen, int *port);
/* 1 when a ROLE reply says master. */
int cr_redis_role_master(const redisReply *r);
/* 1 when an error reply means the server we write to is a replica now (READONLY). */
int cr_redis_demoted_reply(const char *e);

#endif

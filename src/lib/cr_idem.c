/* cr_idem.c: Idempotency-Key claims, replays and recorded outcomes in idempotency_keys.
 *
 * The life of a row: the first request INSERTs it IN_PROGRESS in its own autocommitted
 * statement (the primary key (user_id, idem_key) lets exactly one of any number of concurrent
 * requests win), then the work's own transaction flips it to DONE with the response. Because
 * the flip is in the same transaction as the work, a crash can never leave money moved
 * without its recorded response, nor a recorded response without the work: either both
 * commit or neither does, and a row left IN_PROGRESS by a dead request may be taken over.
 * The claim records its MariaDB session (owner_conn, CR_IDEM_OWNER below): a repeat that finds
 * the claim running takes it over at once when that session is gone (a killed worker's
 * session ends with its socket, rolling its transaction back), and otherwise answers 409
 * until CR_IDEM_STALE_MS. created_at doubles as the claim's stamp: every later write to the
 * row checks it, so a request whose row was taken over can never overwrite the new owner's. */
#include <string.h>

#include "cr_db.h"
#include "cr_error.h"
#include "cr_idem.h"
#include "cr_json.h"
#include "cr_log.h"
#include "cr_time.h"

/* The claim's owner: its node's server_id in the high 32 bits and its CONNECTION_ID() in the
 * low ones, because connection ids are per node (Galera: each node counts its own) and a
 * repeat may reach another node than the claim did. */
#define CR_IDEM_OWNER "(@@server_id << 32 | CONNECTION_ID())"

/* ---------------------------------------------------------------------------------------- */
/* SHA-256 (FIPS 180-4), small and self-contained: the fingerprints are a few dozen bytes.   */

static const uint32_t cr_sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

static uint32_t cr_ror(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static void cr_sha256_block(uint32_t h[8], const uint8_t *p)
{
    uint32_t w[64], s[8];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = cr_ror(w[i - 15], 7) ^ cr_ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = cr_ror(w[i - 2], 17) ^ cr_ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    memcpy(s, h, sizeof(s));
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = s[7] + (cr_ror(s[4], 6) ^ cr_ror(s[4], 11) ^ cr_ror(s[4], 25)) +
                      ((s[4] & s[5]) ^ (~s[4] & s[6])) + cr_sha256_k[i] + w[i];
        uint32_t t2 = (cr_ror(s[0], 2) ^ cr_ror(s[0], 13) ^ cr_ror(s[0], 22)) +
                      ((s[0] & s[1]) ^ (s[0] & s[2]) ^ (s[1] & s[2]));
        memmove(s + 1, s, 7 * sizeof(s[0]));
        s[4] += t1;
        s[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++)
        h[i] += s[i];
}

void cr_idem_sha256(const void *data, size_t n, uint8_t out[32])
{
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    const uint8_t *p = data;
    uint8_t tail[128];
    size_t full = n - n % 64, rest = n % 64;
    for (size_t off = 0; off < full; off += 64)
        cr_sha256_block(h, p + off);
    /* The last bytes, a 1 bit, zeros, and the length in bits: one or two more blocks. */
    memset(tail, 0, sizeof(tail));
    if (rest > 0)
        memcpy(tail, p + full, rest);
    tail[rest] = 0x80;
    size_t tlen = rest < 56 ? 64 : 128;
    uint64_t bits = (uint64_t)n * 8;
    for (int i = 0; i < 8; i++)
        tail[tlen - 1 - (size_t)i] = (uint8_t)(bits >> (8 * i));
    for (size_t off = 0; off < tlen; off += 64)
        cr_sha256_block(h, tail + off);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(h[i] >> 8);
        out[4 * i + 3] = (uint8_t)h[i];
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Claims.                                                                                   */

int cr_idem_check_key(struct cr_req *req)
{
    if (req->idempotency_key == NULL || cr_is_safe_id(req->idempotency_key))
        return CR_OK;
    return cr_fail(req, CR_E_INVALID,
                   "Idempotency-Key must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -");
}

/* Re-stamps an old row as our fresh IN_PROGRESS claim, provided nobody re-stamped it since we
 * read it (old_stamp). With running = 1 (taking over a dead request's claim) also only while
 * it is still IN_PROGRESS: a dead owner's COMMIT may have flipped it to DONE since we read it,
 * and that outcome must be replayed, not redone. Sets *won. */
static int cr_idem_take_over(struct cr_idem *st, long long old_stamp, long long now, int running,
                             int *won)
{
    long long affected = 0;
    struct cr_db_val p[] = {
        CR_DB_STRZ(st->endpoint), CR_DB_B(st->hash, 32), CR_DB_T(now),
        CR_DB_I(st->user_id),     CR_DB_STRZ(st->key),   CR_DB_T(old_stamp),
    };
    int rc = running
                 ? cr_db_exec("UPDATE idempotency_keys SET endpoint = ?, request_hash = ?, "
                              "state = 'IN_PROGRESS', response_status = NULL, "
                              "response_body = NULL, created_at = ?, "
                              "owner_conn = " CR_IDEM_OWNER " WHERE user_id = ? AND idem_key = ? "
                              "AND created_at = ? AND state = 'IN_PROGRESS'",
                              p, 6, &affected, NULL)
                 : cr_db_exec("UPDATE idempotency_keys SET endpoint = ?, request_hash = ?, "
                              "state = 'IN_PROGRESS', response_status = NULL, "
                              "response_body = NULL, created_at = ?, "
                              "owner_conn = " CR_IDEM_OWNER " WHERE user_id = ? AND idem_key = ? "
                              "AND created_at = ?",
                              p, 6, &affected, NULL);
    *won = rc == CR_OK && affected == 1;
    if (*won)
        st->stamp = now;
    return rc;
}

/* Sets *gone when the MariaDB session that made a running claim (owner: CR_IDEM_OWNER) has
 * ended, or is our own session, whose earlier request is over (a worker serves one request at
 * a time). A session ends when its client's socket closes, which kill -9 of the worker does;
 * one blocked in a lock wait ends when the wait does. Sessions are looked up in the process
 * list, which shows every session of the service's own database user. A claim made on
 * another node (a Galera cluster: a worker moves to another node only when its own failed)
 * counts as gone: that node is presumed lost with its session, and a wrong guess is safe,
 * since the claim's stamp lets only one of the two requests record an outcome. Rows without
 * an owner (older than the column) wait for CR_IDEM_STALE_MS. */
static int cr_idem_owner_gone(struct cr_arena *a, const struct cr_db_val *owner, int *gone)
{
    struct cr_db_rows rows;
    *gone = 0;
    if (owner->type != CR_DB_INT)
        return CR_OK;
    struct cr_db_val p[] = {CR_DB_I(owner->i), CR_DB_I(owner->i)};
    int rc = cr_db_query(a,
                         "SELECT IF(? >> 32 <> @@server_id, 0, "
                         "(SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                         "WHERE ID = ? & 4294967295 AND ID <> CONNECTION_ID()))",
                         p, 2, &rows);
    if (rc == CR_OK) {
        *gone = rows.nrows == 1 && CR_DB_CELL(&rows, 0, 0)->i == 0;
    } else if (rc != CR_E_UNAVAILABLE) {
        /* Not knowing is no reason to fail the request: the owner counts as alive (409),
         * and the claim still lapses after CR_IDEM_STALE_MS. */
        cr_log_warn("idempotency claim owner %lld not looked up (%d)", owner->i, rc);
        rc = CR_OK;
    }
    return rc;
}

/* The shared body of cr_idem_begin (claim = 1) and cr_idem_lookup (claim = 0). */
static int cr_idem_open(struct cr_req *req, struct cr_resp *resp, long long user_id,
                        const char *endpoint, const char *fingerprint, struct cr_idem *st,
                        int claim)
{
    int rc = CR_OK;
    memset(st, 0, sizeof(*st));
    if (req->idempotency_key == NULL)
        return CR_OK;
    if ((rc = cr_idem_check_key(req)) != CR_OK)
        return rc;
    if (strlen(endpoint) > CR_IDEM_ENDPOINT_MAX)
        return CR_E_INTERNAL;
    st->key = req->idempotency_key;
    st->user_id = user_id;
    st->endpoint = endpoint;
    const char *canon = cr_arena_sprintf(req->arena, "%s|%s", endpoint, fingerprint);
    cr_idem_sha256(canon, strlen(canon), st->hash);

    /* A few rounds: a row can vanish (a 5xx deleted it) or be re-stamped between our INSERT
     * and our SELECT; each round starts again from the INSERT. */
    for (int round = 0; round < 4; round++) {
        long long now = cr_time_now_ms();
        if (claim) {
            struct cr_db_val ins[] = {CR_DB_I(user_id), CR_DB_STRZ(st->key),
                                      CR_DB_STRZ(endpoint), CR_DB_B(st->hash, 32),
                                      CR_DB_T(now)};
            rc = cr_db_exec("INSERT INTO idempotency_keys (user_id, idem_key, endpoint, "
                            "request_hash, state, created_at, owner_conn) "
                            "VALUES (?, ?, ?, ?, 'IN_PROGRESS', ?, " CR_IDEM_OWNER ")",
                            ins, 5, NULL, NULL);
            if (rc == CR_OK) {
                st->stamp = now;
                return CR_OK;
            }
            if (rc == CR_E_RETRY)
                continue;
            if (rc != CR_E_DUPLICATE)
                return rc;
        }
        struct cr_db_rows rows;
        struct cr_db_val sel[] = {CR_DB_I(user_id), CR_DB_STRZ(st->key)};
        rc = cr_db_query(req->arena,
                         "SELECT endpoint, request_hash, state, response_status, response_body, "
                         "created_at, owner_conn FROM idempotency_keys "
                         "WHERE user_id = ? AND idem_key = ?",
                         sel, 2, &rows);
        if (rc != CR_OK)
            return rc;
        if (rows.nrows == 0) {
            if (!claim)
                return CR_E_NOT_FOUND;
            continue;
        }
        const struct cr_db_val *ep = CR_DB_CELL(&rows, 0, 0), *hash = CR_DB_CELL(&rows, 0, 1);
        const struct cr_db_val *state = CR_DB_CELL(&rows, 0, 2), *status = CR_DB_CELL(&rows, 0, 3);
        const struct cr_db_val *body = CR_DB_CELL(&rows, 0, 4);
        long long created = CR_DB_CELL(&rows, 0, 5)->i;
        int won = 0;
        if (now - created >= CR_IDEM_TTL_MS) {
            /* Older than the promised 24 h: forgotten, as if the key were new. */
            if (!claim)
                return CR_E_NOT_FOUND;
            if ((rc = cr_idem_take_over(st, created, now, 0, &won)) != CR_OK)
                return rc;
            if (won)
                return CR_OK;
            continue;
        }
        if (strcmp(ep->s, endpoint) != 0 || hash->len != 32 ||
            memcmp(hash->s, st->hash, 32) != 0)
            return cr_fail(req, CR_E_IDEM_REUSED,
                           "the Idempotency-Key was already used for a different request");
        if (strcmp(state->s, "DONE") == 0 && status->type == CR_DB_INT &&
            body->type == CR_DB_STR) {
            resp->status = (int)status->i;
            resp->raw = body->s; /* in req->arena */
            resp->body = NULL;
            st->replayed = 1;
            return CR_OK;
        }
        int gone = 0;
        if (claim && now - created < CR_IDEM_STALE_MS &&
            (rc = cr_idem_owner_gone(req->arena, CR_DB_CELL(&rows, 0, 6), &gone)) != CR_OK)
            return rc;
        if (claim && (gone || now - created >= CR_IDEM_STALE_MS)) {
            /* Its request died between claim and outcome (crash, killed worker, lost
             * session): it committed nothing, since the work and the DONE flip commit
             * together, and a DONE it did commit makes the take-over miss. */
            if ((rc = cr_idem_take_over(st, created, now, 1, &won)) != CR_OK)
                return rc;
            if (won) {
                cr_log_warn("idempotency key of user %lld taken over after %lld ms (%s)",
                            user_id, now - created,
                            gone ? "its session is gone" : "stale claim");
                return CR_OK;
            }
            continue;
        }
        return cr_fail(req, CR_E_IN_PROGRESS,
                       "a request with this Idempotency-Key is still running; retry later");
    }
    /* The row kept changing under us: say so and let the client retry. */
    return rc == CR_E_RETRY ? CR_E_UNAVAILABLE
                            : cr_fail(req, CR_E_IN_PROGRESS,
                                      "a request with this Idempotency-Key is still running");
}

int cr_idem_begin(struct cr_req *req, struct cr_resp *resp, long long user_id,
                  const char *endpoint, const char *fingerprint, struct cr_idem *st)
{
    return cr_idem_open(req, resp, user_id, endpoint, fingerprint, st, 1);
}

int cr_idem_lookup(struct cr_req *req, struct cr_resp *resp, long long user_id,
                   const char *endpoint, const char *fingerprint, struct cr_idem *st)
{
    int rc = cr_idem_open(req, resp, user_id, endpoint, fingerprint, st, 0);
    if (rc == CR_OK && !st->replayed)
        return CR_E_NOT_FOUND; /* no key at all: nothing can be recorded */
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Outcomes.                                                                                 */

/* Flips our IN_PROGRESS row to DONE with the response; 0 affected rows means not ours. */
static int cr_idem_record(struct cr_idem *st, int status, const char *body, long long *affected)
{
    struct cr_db_val p[] = {CR_DB_I(status), CR_DB_STRZ(body), CR_DB_I(st->user_id),
                            CR_DB_STRZ(st->key), CR_DB_T(st->stamp)};
    return cr_db_exec("UPDATE idempotency_keys SET state = 'DONE', response_status = ?, "
                      "response_body = ? WHERE user_id = ? AND idem_key = ? "
                      "AND state = 'IN_PROGRESS' AND created_at = ?",
                      p, 5, affected, NULL);
}

int cr_idem_finish_in_txn(struct cr_idem *st, int status, const char *body)
{
    long long affected = 0;
    if (st->key == NULL)
        return CR_OK;
    int rc = cr_idem_record(st, status, body, &affected);
    if (rc != CR_OK)
        return rc;
    if (affected != 1) {
        /* We ran past CR_IDEM_STALE_MS and a repeat took the key over: its outcome wins and
         * ours must not commit, or the work would be done twice. */
        st->lost = 1;
        return CR_E_IN_PROGRESS;
    }
    return CR_OK;
}

int cr_idem_fail(struct cr_req *req, struct cr_idem *st, int err)
{
    long long affected = 0;
    int rc;
    if (st->key == NULL || st->replayed || st->lost || err == CR_OK)
        return err;
    const struct cr_error_info *info = cr_error_info(err);
    /* A 401 is the token gate's answer (the work found its token already spent), which a
     * gate refuses before any claim: not an outcome of the request, so not recorded, and
     * the same key with a valid token does the work. */
    if (info->status >= 400 && info->status < 500 && info->status != 401) {
        /* The body the dispatcher is about to send for err, byte for byte. */
        struct cr_resp tmp;
        memset(&tmp, 0, sizeof(tmp));
        cr_resp_error(req, &tmp, err);
        rc = cr_idem_record(st, info->status, cr_json_text(req->arena, tmp.body), &affected);
    } else {
        struct cr_db_val p[] = {CR_DB_I(st->user_id), CR_DB_STRZ(st->key), CR_DB_T(st->stamp)};
        rc = cr_db_exec("DELETE FROM idempotency_keys WHERE user_id = ? AND idem_key = ? "
                        "AND state = 'IN_PROGRESS' AND created_at = ?",
                        p, 3, &affected, NULL);
    }
    if (rc != CR_OK)
        cr_log_warn("idempotency key of user %lld: outcome %d not recorded (%d); the claim "
                    "lapses after %lld ms", st->user_id, info->status, rc, CR_IDEM_STALE_MS);
    return err;
}

int cr_idem_purge(long long max, long long *deleted)
{
    long long affected = 0;
    struct cr_db_val p[] = {CR_DB_T(cr_time_now_ms() - CR_IDEM_TTL_MS), CR_DB_I(max)};
    int rc = cr_db_exec("DELETE FROM idempotency_keys WHERE created_at < ? LIMIT ?", p, 2,
                        &affected, NULL);
    if (deleted != NULL)
        *deleted = rc == CR_OK ? affected : 0;
    return rc;
}

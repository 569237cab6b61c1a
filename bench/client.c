/* client.c: see client.h. */
#include "client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct cr_client_buf *b = ud;
    size_t n = size * nmemb;
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (b->p == NULL)
            abort();
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
    b->p[b->n] = '\0';
    return n;
}

CURL *cr_client_easy(struct cr_client_buf *body)
{
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    return c;
}

double cr_client_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct curl_slist *cr_client_prepare(CURL *c, struct cr_client_buf *body, const char *base,
                                     const char *method, const char *path, const char *token,
                                     const char *idem, const char *json)
{
    char url[512], auth[400], key[120];
    struct curl_slist *h = NULL;
    snprintf(url, sizeof(url), "%s%s", base, path);
    body->n = 0;
    if (body->p != NULL)
        body->p[0] = '\0';
    if (token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    if (idem != NULL) {
        snprintf(key, sizeof(key), "Idempotency-Key: %s", idem);
        h = curl_slist_append(h, key);
    }
    if (json != NULL)
        h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (json != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(json));
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    return h;
}

const char *cr_client_jstr(json_object *o, const char *key)
{
    json_object *v;
    return o != NULL && json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

int cr_client_pick_seat(json_object *o, unsigned int *seed)
{
    json_object *seats;
    int avail[1024], n = 0;
    if (o == NULL || !json_object_object_get_ex(o, "seats", &seats))
        return -1;
    size_t len = json_object_array_length(seats);
    for (size_t i = 0; i < len && n < 1024; i++) {
        json_object *s = json_object_array_get_idx(seats, i);
        const char *st = cr_client_jstr(s, "status");
        json_object *no;
        if (st != NULL && strcmp(st, "AVAILABLE") == 0 &&
            json_object_object_get_ex(s, "seatNo", &no))
            avail[n++] = json_object_get_int(no);
    }
    return n == 0 ? 0 : avail[rand_r(seed) % n];
}

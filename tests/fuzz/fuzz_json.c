/* fuzz_json.c: the strict JSON validator (cr_json_parse) on raw bytes, and what a handler does
 * with an accepted body: cr_json_body, then the typed field readers the routes use. What the
 * validator accepts must serialise and be accepted again to the same text (the service echoes
 * and stores bodies it parsed), and a field reader's verdict must match the value. */
#include <string.h>

#include "cr_error.h"
#include "cr_fuzz.h"
#include "cr_json.h"

static void put_cb(void *p)
{
    json_object_put(p);
}

static void fields(struct cr_req *req, json_object *obj)
{
    long long n = 0;
    struct cr_uuid u;
    json_object *arr = NULL;
    static const char *const keys[] = {"amount", "userId", "seatIds", "holdId", "concertId"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        json_object *v = NULL;
        int has = json_object_object_get_ex(obj, keys[i], &v) && v != NULL;
        int rc = cr_json_int(req, obj, keys[i], 1, 1000000000, &n);
        CR_FUZZ_CHECK(rc == CR_OK || rc == CR_E_INVALID);
        if (rc == CR_OK)
            CR_FUZZ_CHECK(has && cr_json_is_int(v) && n >= 1 && n <= 1000000000);
        rc = cr_json_uuid(req, obj, keys[i], &u);
        CR_FUZZ_CHECK(rc == CR_OK || rc == CR_E_INVALID);
        if (rc == CR_OK)
            CR_FUZZ_CHECK(has && json_object_is_type(v, json_type_string));
        rc = cr_json_array(req, obj, keys[i], 1, 4, &arr);
        CR_FUZZ_CHECK(rc == CR_OK || rc == CR_E_INVALID);
        if (rc == CR_OK) {
            size_t len = json_object_array_length(arr);
            CR_FUZZ_CHECK(len >= 1 && len <= 4);
            for (size_t j = 0; j < len; j++)
                (void)cr_json_is_int(json_object_array_get_idx(arr, j));
        }
        CR_FUZZ_CHECK(rc == CR_OK || req->errmsg != NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_object *obj = NULL, *again = NULL;
    struct cr_req req;

    /* Exactly size bytes, no terminator: a read past the end is an ASan finding. */
    int rc = cr_json_parse((const char *)data, size, &obj);
    CR_FUZZ_CHECK(rc == CR_OK || rc == CR_E_INVALID);
    CR_FUZZ_CHECK((rc == CR_OK) == (obj != NULL));
    if (rc == CR_OK) {
        cr_arena_cleanup(cr_fuzz_arena, put_cb, obj);
        const char *text = cr_json_text(cr_fuzz_arena, obj);
        CR_FUZZ_CHECK(cr_json_parse(text, strlen(text), &again) == CR_OK);
        cr_arena_cleanup(cr_fuzz_arena, put_cb, again);
        CR_FUZZ_CHECK(strcmp(cr_json_text(cr_fuzz_arena, again), text) == 0);
    }

    /* The same bytes as a request body (NUL-terminated, as the request reader leaves it). */
    memset(&req, 0, sizeof(req));
    req.arena = cr_fuzz_arena;
    req.body = cr_arena_strndup(cr_fuzz_arena, (const char *)data, size);
    req.body_len = size;
    req.request_id = "fuzz";
    json_object *body = NULL;
    rc = cr_json_body(&req, &body);
    CR_FUZZ_CHECK(rc == CR_OK || rc == CR_E_INVALID);
    if (rc == CR_OK) {
        CR_FUZZ_CHECK(json_object_is_type(body, json_type_object));
        fields(&req, body);
    }
    return cr_fuzz_done();
}

/* test_config.c: unit tests of the KEY=VALUE configuration: defaults, file, environment. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cr_config.h"
#include "cr_db.h"
#include "cr_error.h"

/* The environment variables these tests touch; cleared around every test. */
static const char *const touched_env[] = {"CONCERT_CONFIG", "QUEUE_ACTIVE_MAX", "DB_HOST",
                                          "QUEUE_MODE",     "LOG_FILE",         "DB_PASSWORD",
                                          "RESERVATION_MAX_HOLDS"};

struct cfg_fixture {
    char path[256]; /* a temp file, "" when none was written */
};

static void clear_env(void)
{
    for (size_t i = 0; i < sizeof(touched_env) / sizeof(touched_env[0]); i++)
        unsetenv(touched_env[i]);
}

static int setup(void **state)
{
    struct cfg_fixture *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    clear_env();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct cfg_fixture *f = *state;
    char err[256];
    if (f->path[0] != '\0')
        unlink(f->path);
    clear_env();
    cr_config_load(NULL, err, sizeof(err)); /* back to the defaults for the next test */
    free(f);
    return 0;
}

/* Writes text to a new temp file whose name goes to f->path. */
static void write_file(struct cfg_fixture *f, const char *text)
{
    const char *dir = getenv("TMPDIR");
    snprintf(f->path, sizeof(f->path), "%s/cr_config_test_XXXXXX",
             dir != NULL && *dir != '\0' ? dir : "/tmp");
    int fd = mkstemp(f->path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

static void test_defaults(void **state)
{
    (void)state;
    char err[256] = "";
    assert_int_equal(cr_config_load(NULL, err, sizeof(err)), CR_OK);
    assert_int_equal(cr_config_int("QUEUE_ACTIVE_MAX"), 100);
    assert_string_equal(cr_config_get("QUEUE_ACTIVE_MAX"), "100");
    assert_int_equal(cr_config_int("QUEUE_ACTIVE_TTL"), 600);
    assert_int_equal(cr_config_int("QUEUE_WAIT_IDLE_TTL"), 60);
    assert_int_equal(cr_config_int("RESERVATION_HOLD_SECONDS"), 300);
    assert_int_equal(cr_config_int("RESERVATION_MAX_HOLDS"), 4);
    assert_int_equal(cr_config_int("BALANCE_MAX"), 1000000000LL);
    assert_string_equal(cr_config_get("QUEUE_MODE"), "redis");
    assert_string_equal(cr_config_get("DB_HOST"), "127.0.0.1");
    assert_string_equal(cr_config_get("LOG_FILE"), "");
    /* Unknown keys have no value. */
    assert_null(cr_config_get("NO_SUCH_KEY"));
    assert_int_equal(cr_config_int("NO_SUCH_KEY"), 0);
}

static void test_file(void **state)
{
    struct cfg_fixture *f = *state;
    char err[256] = "";
    write_file(f, "# a comment\n"
                  "\n"
                  "QUEUE_ACTIVE_MAX=7\n"
                  "   \t\n"
                  "  DB_HOST   =   db.example.org  \n"
                  "# QUEUE_MODE=timed\n"
                  "   # an indented comment\n"
                  "DB_PASSWORD=a=b\n"
                  "LOG_FILE=\n"
                  "RESERVATION_MAX_HOLDS = 2"); /* no newline at the end */
    assert_int_equal(cr_config_load(f->path, err, sizeof(err)), CR_OK);
    assert_int_equal(cr_config_int("QUEUE_ACTIVE_MAX"), 7);
    assert_string_equal(cr_config_get("DB_HOST"), "db.example.org");
    assert_string_equal(cr_config_get("QUEUE_MODE"), "redis"); /* commented out */
    assert_string_equal(cr_config_get("DB_PASSWORD"), "a=b"); /* split at the first '=' */
    assert_string_equal(cr_config_get("LOG_FILE"), "");
    assert_int_equal(cr_config_int("RESERVATION_MAX_HOLDS"), 2);
    assert_int_equal(cr_config_int("QUEUE_ACTIVE_TTL"), 600); /* untouched: default */
}

static void test_file_from_env_path(void **state)
{
    struct cfg_fixture *f = *state;
    char err[256] = "";
    write_file(f, "QUEUE_ACTIVE_MAX=9\n");
    setenv("CONCERT_CONFIG", f->path, 1);
    assert_int_equal(cr_config_load(NULL, err, sizeof(err)), CR_OK);
    assert_int_equal(cr_config_int("QUEUE_ACTIVE_MAX"), 9);
    /* An empty CONCERT_CONFIG means no file. */
    setenv("CONCERT_CONFIG", "", 1);
    assert_int_equal(cr_config_load(NULL, err, sizeof(err)), CR_OK);
    assert_int_equal(cr_config_int("QUEUE_ACTIVE_MAX"), 100);
}

static void test_env_overrides_file(void **state)
{
    struct cfg_fixture *f = *state;
    char err[256] = "";
    write_file(f, "QUEUE_ACTIVE_MAX=7\nDB_HOST=from-file\n");
    setenv("QUEUE_ACTIVE_MAX", "42", 1);
    setenv("QUEUE_MODE", "timed", 1);
    assert_int_equal(cr_config_load(f->path, err, sizeof(err)), CR_OK);
    assert_int_equal(cr_config_int("QUEUE_ACTIVE_MAX"), 42);
    assert_string_equal(cr_config_get("QUEUE_MODE"), "timed");
    assert_string_equal(cr_config_get("DB_HOST"), "from-file");
    /* An empty environment value still overrides. */
    setenv("DB_HOST", "", 1);
    assert_int_equal(cr_config_load(f->path, err, sizeof(err)), CR_OK);
    assert_string_equal(cr_config_get("DB_HOST"), "");
}

static void test_unknown_key(void **state)
{
    struct cfg_fixture *f = *state;
    char err[256] = "";
    write_file(f, "# ok\nQUEUE_ACTIVE_MAX=5\nQUEUE_ACTIVE_MAXX=6\n");
    assert_int_equal(cr_config_load(f->path, err, sizeof(err)), CR_E_INVALID);
    assert_non_null(strstr(err, "unknown key"));
    assert_non_null(strstr(err, "QUEUE_ACTIVE_MAXX"));
    assert_non_null(strstr(err, ":3:")); /* the line number */
    assert_non_null(strstr(err, f->path));
}

static void test_line_without_equals(void **state)
{
    struct cfg_fixture *f = *state;
    char err[256] = "";
    write_file(f, "QUEUE_ACTIVE_MAX=5\nQUEUE_MODE timed\n");
    assert_int_equal(cr_config_load(f->path, err, sizeof(err)), CR_E_INVALID);
    assert_non_null(strstr(err, "KEY=VALUE"));
    assert_non_null(strstr(err, ":2:"));
}

static void test_missing_file(void **state)
{
    (void)state;
    char err[256] = "";
    const char *path = "/nonexistent-dir-cr-test/concert.conf";
    assert_int_equal(cr_config_load(path, err, sizeof(err)), CR_E_INVALID);
    assert_non_null(strstr(err, path));
}

static void test_small_errbuf(void **state)
{
    struct cfg_fixture *f = *state;
    char err[8];
    memset(err, 'x', sizeof(err));
    write_file(f, "BOGUS=1\n");
    assert_int_equal(cr_config_load(f->path, err, sizeof(err)), CR_E_INVALID);
    assert_int_equal(strlen(err), sizeof(err) - 1); /* truncated, still terminated */
}

static void test_int_falls_back_to_default(void **state)
{
    (void)state;
    static const char *const bad[] = {"abc", "12abc", "", " ", "1.5", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(cr_config_set("QUEUE_ACTIVE_MAX", bad[i]), CR_OK);
        assert_string_equal(cr_config_get("QUEUE_ACTIVE_MAX"), bad[i]);
        assert_int_equal(cr_config_int("QUEUE_ACTIVE_MAX"), 100);
    }
    assert_int_equal(cr_config_set("QUEUE_ACTIVE_MAX", "-3"), CR_OK);
    assert_int_equal(cr_config_int("QUEUE_ACTIVE_MAX"), -3);
}

static void test_set(void **state)
{
    (void)state;
    assert_int_equal(cr_config_set("QUEUE_ACTIVE_MAX", "250"), CR_OK);
    assert_int_equal(cr_config_int("QUEUE_ACTIVE_MAX"), 250);
    assert_int_equal(cr_config_set("QUEUE_MODE", "timed"), CR_OK);
    assert_string_equal(cr_config_get("QUEUE_MODE"), "timed");
    /* Setting twice replaces. */
    assert_int_equal(cr_config_set("QUEUE_MODE", "redis"), CR_OK);
    assert_string_equal(cr_config_get("QUEUE_MODE"), "redis");
    assert_int_equal(cr_config_set("NO_SUCH_KEY", "1"), CR_E_INVALID);
    assert_null(cr_config_get("NO_SUCH_KEY"));
}

static void test_reload_resets(void **state)
{
    struct cfg_fixture *f = *state;
    char err[256] = "";
    assert_int_equal(cr_config_set("QUEUE_ACTIVE_MAX", "1"), CR_OK);
    assert_int_equal(cr_config_set("DB_HOST", "elsewhere"), CR_OK);
    assert_int_equal(cr_config_load(NULL, err, sizeof(err)), CR_OK);
    assert_int_equal(cr_config_int("QUEUE_ACTIVE_MAX"), 100);
    assert_string_equal(cr_config_get("DB_HOST"), "127.0.0.1");
    /* A value from an earlier file does not survive a load without it. */
    write_file(f, "QUEUE_ACTIVE_MAX=3\n");
    assert_int_equal(cr_config_load(f->path, err, sizeof(err)), CR_OK);
    assert_int_equal(cr_config_int("QUEUE_ACTIVE_MAX"), 3);
    assert_int_equal(cr_config_load(NULL, err, sizeof(err)), CR_OK);
    assert_int_equal(cr_config_int("QUEUE_ACTIVE_MAX"), 100);
}

/* The time budget's keys must nest (README "Time budget"); a worker refuses to start otherwise. */
static void test_budget_nests(void **state)
{
    (void)state;
    char err[256] = "";
    assert_int_equal(cr_db_budget_check(err, sizeof(err)), CR_OK); /* the defaults */
    static const char *const bad[][4] = {
        /* lock wait, statement, read timeout, request timeout */
        {"0", "3", "4", "10"},  {"3", "3", "4", "10"}, {"2", "4", "4", "10"},
        {"2", "3", "4", "6"},   {"2", "3", "8", "10"}, {"x", "3", "4", "10"} /* default 2: ok */,
    };
    static const char *const keys[4] = {"DB_LOCK_WAIT_SECONDS", "DB_STATEMENT_SECONDS",
                                        "DB_READ_TIMEOUT_SECONDS", "REQUEST_TIMEOUT_SECONDS"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        for (int k = 0; k < 4; k++)
            assert_int_equal(cr_config_set(keys[k], bad[i][k]), CR_OK);
        err[0] = '\0';
        int want = i == 5 ? CR_OK : CR_E_INVALID;
        assert_int_equal(cr_db_budget_check(err, sizeof(err)), want);
        if (want != CR_OK)
            assert_non_null(strstr(err, "DB_LOCK_WAIT_SECONDS"));
    }
    /* The smallest chain that leaves a second to start a round trip in. */
    static const char *const tight[4] = {"1", "2", "3", "6"};
    for (int k = 0; k < 4; k++)
        assert_int_equal(cr_config_set(keys[k], tight[k]), CR_OK);
    assert_int_equal(cr_db_budget_check(err, sizeof(err)), CR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_from_env_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_overrides_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_without_equals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_small_errbuf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int_falls_back_to_default, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_resets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_budget_nests, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

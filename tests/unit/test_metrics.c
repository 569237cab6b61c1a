/* test_metrics.c: cr_metrics without a stack: slots claimed by live processes only (a killed
 * one's slot is free again, and its counts stay), sums over every slot, latency buckets. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cr_config.h"
#include "cr_error.h"
#include "cr_metrics.h"

static char dir[] = "/tmp/cr-metrics-test.XXXXXX";

/* A child that opens the file, counts n answers of 200, tells the parent, then waits to be
 * killed. Returns its pid once it has counted. */
static pid_t counting_child(int n)
{
    int p[2];
    char c;
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        if (cr_metrics_open("g") != CR_OK)
            _exit(1);
        for (int i = 0; i < n; i++)
            cr_metrics_request(200, 100);
        cr_metrics_inc(CR_M_PAYMENTS);
        if (write(p[1], "x", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(p[1]);
    assert_int_equal(read(p[0], &c, 1), 1);
    close(p[0]);
    return pid;
}

static void test_slots_and_sums(void **state)
{
    (void)state;
    struct cr_metrics_slot s;
    assert_int_equal(cr_metrics_sum(dir, "g", &s), CR_E_NOT_FOUND);

    /* Two live processes hold two slots; the parent takes a third. */
    pid_t a = counting_child(10), b = counting_child(5);
    assert_int_equal(cr_metrics_open("g"), CR_OK);
    cr_metrics_request(404, 3000);
    assert_int_equal(cr_metrics_sum(dir, "g", &s), CR_OK);
    assert_int_equal(s.requests[200 - 100], 15);
    assert_int_equal(s.requests[404 - 100], 1);
    assert_int_equal(s.counters[CR_M_PAYMENTS], 2);

    /* kill -9: the counts stay, the slot is free again, and the next process adds to it. */
    kill(a, SIGKILL);
    waitpid(a, NULL, 0);
    pid_t c = counting_child(7);
    assert_int_equal(cr_metrics_sum(dir, "g", &s), CR_OK);
    assert_int_equal(s.requests[200 - 100], 22);
    assert_int_equal(s.counters[CR_M_PAYMENTS], 3);
    /* Buckets: 100 us ones (22) in the first, the 3 ms one in the 5 ms bucket; the sum. */
    assert_int_equal(s.buckets[0], 22);
    assert_int_equal(s.buckets[2], 1);
    assert_int_equal(s.duration_us, 22 * 100 + 3000);

    kill(b, SIGKILL);
    kill(c, SIGKILL);
    waitpid(b, NULL, 0);
    waitpid(c, NULL, 0);
    cr_metrics_close();
    assert_int_equal(cr_metrics_sum(dir, "g", &s), CR_OK);
    assert_int_equal(s.requests[200 - 100], 22);
}

static void test_no_dir(void **state)
{
    (void)state;
    cr_config_set("METRICS_DIR", "");
    assert_int_equal(cr_metrics_open("g"), CR_OK); /* private memory: counting is harmless */
    cr_metrics_request(200, 1);
    cr_metrics_inc(CR_M_HOLDS_HELD);
    cr_metrics_close();
    cr_metrics_inc(CR_M_HOLDS_HELD); /* after close: nothing, no crash */
    cr_config_set("METRICS_DIR", dir);
}

int main(void)
{
    char err[256], path[128];
    int rc;
    if (mkdtemp(dir) == NULL)
        return 1;
    cr_config_load("/dev/null", err, sizeof(err));
    cr_config_set("METRICS_DIR", dir);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slots_and_sums),
        cmocka_unit_test(test_no_dir),
    };
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    snprintf(path, sizeof(path), "%s/g.metrics", dir);
    unlink(path);
    rmdir(dir);
    return rc;
}

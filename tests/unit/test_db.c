/* test_db.c: unit tests of cr_db's pure parts: the DB_HOSTS list parser. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "cr_config.h"
#include "cr_db.h"
#include "cr_error.h"

static struct cr_db_host hosts[CR_DB_MAX_HOSTS];
static char err[128];

static int parse(const char *list) {
  memset(hosts, 0, sizeof(hosts));
  err[0] = '\0';
  return cr_db_hosts_parse(list, hosts, CR_DB_MAX_HOSTS, err, sizeof(err));
}

static void test_empty_is_no_cluster(void **state) {
  (void)state;
  assert_int_equal(parse(""), 0);
  assert_int_equal(parse("   "), 0);
  assert_int_equal(parse(NULL), 0);
}

static void test_list_in_order(void **state) {
  (void)state;
  assert_int_equal(parse("127.0.1.1:3306,127.0.1.2:3307, db-3.example:13306 "),
                   3);
  assert_string_equal(hosts[0].host, "127.0.1.1");
  assert_int_equal(hosts[0].port, 3306);
  assert_string_equal(hosts[1].host, "127.0.1.2");
  assert_int_equal(hosts[1].port, 3307);
  assert_string_equal(hosts[2].host, "db-3.example");
  assert_int_equal(hosts[2].port, 13306);
  assert_int_equal(parse("one:1"), 1);
  assert_string_equal(hosts[0].host, "one");
  assert_int_equal(hosts[0].port, 1);
}

static void test_ipv6_in_brackets(void **state) {
  (void)state;
  assert_int_equal(parse("[::1]:3306,[fd00::2]:65535"), 2);
  assert_string_equal(hosts[0].host, "::1");
  assert_int_equal(hosts[0].port, 3306);
  assert_string_equal(hosts[1].host, "fd00::2");
  assert_int_equal(hosts[1].port, 65535);
}

static void test_refused(void **state) {
  (void)state;
  static const char *const bad[] = {
      "127.0.1.1",      /* no port */
      "127.0.1.1:",     /* empty port */
      ":3306",          /* empty host */
      "a:3306,",        /* empty item at the end */
      "a:3306,,b:3306", /* empty item */
      ",a:3306",        /* empty item first */
      "a:0",            /* port out of range */
      "a:65536",        /* port out of range */
      "a:123456",       /* too long */
      "a:33x6",         /* not a number */
      "a:-1",           /* not a number */
      "::1:3306",       /* IPv6 without brackets */
      "[::1]3306",      /* no colon after the bracket */
      "[::1:3306",      /* no closing bracket */
      "a b:3306",       /* space inside the host */
      "a/b:3306",       /* a character no host has */
      "a:3306;b:3306",  /* not our separator */
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int rc = parse(bad[i]);
    if (rc != CR_E_INVALID)
      fail_msg("accepted '%s' (%d)", bad[i], rc);
    assert_true(strncmp(err, "DB_HOSTS: ", 10) == 0);
  }
}

static void test_too_many_or_too_long(void **state) {
  (void)state;
  char list[2048] = "";
  for (int i = 0; i < CR_DB_MAX_HOSTS; i++)
    strcat(list, i ? ",h:1" : "h:1");
  assert_int_equal(parse(list), CR_DB_MAX_HOSTS);
  strcat(list, ",h:1");
  assert_int_equal(parse(list), CR_E_INVALID);
  char host[CR_DB_HOST_MAX + 16];
  memset(host, 'a', CR_DB_HOST_MAX);
  strcpy(host + CR_DB_HOST_MAX, ":1");
  assert_int_equal(parse(host), 1);
  assert_int_equal((int)strlen(hosts[0].host), CR_DB_HOST_MAX);
  memset(host, 'a', CR_DB_HOST_MAX + 1);
  strcpy(host + CR_DB_HOST_MAX + 1, ":1");
  assert_int_equal(parse(host), CR_E_INVALID);
}

/* The worker's start-up check reads the configured key. */
static void test_config_check(void **state) {
  (void)state;
  char e[128];
  assert_int_equal(cr_config_set("DB_HOSTS", ""), CR_OK);
  assert_int_equal(cr_db_hosts_check(e, sizeof(e)), CR_OK);
  assert_int_equal(cr_config_set("DB_HOSTS", "127.0.1.1:3306,127.0.1.2:3306"),
                   CR_OK);
  assert_int_equal(cr_db_hosts_check(e, sizeof(e)), CR_OK);
  assert_int_equal(cr_config_set("DB_HOSTS", "127.0.1.1"), CR_OK);
  assert_int_equal(cr_db_hosts_check(e, sizeof(e)), CR_E_INVALID);
}

int main(void) {
  char e[128];
  if (cr_config_load("/dev/null", e, sizeof(e)) != CR_OK)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty_is_no_cluster),
      cmocka_unit_test(test_list_in_order),
      cmocka_unit_test(test_ipv6_in_brackets),
      cmocka_unit_test(test_refused),
      cmocka_unit_test(test_too_many_or_too_long),
      cmocka_unit_test(test_config_check),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests of app/: the configuration table and its errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/config.h"
#include "core/mem.h"

static const char *const VARS[] = {
    "DIREKT_LISTEN", "DATABASE_URL",      "DIREKT_WORKERS", "DIREKT_LOG",
    "IG_GRAPH_URL",  "ANTHROPIC_API_KEY", "CLAUDE_API_KEY", "DIREKT_REPLY_DEBOUNCE_MS"};

static int clear_env(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(VARS) / sizeof(VARS[0]); i++) {
        unsetenv(VARS[i]);
    }
    return 0;
}

static void test_app_config_defaults(void **state)
{
    (void)state;
    struct app_config cfg;
    struct dk_err err = {0};
    assert_int_equal(app_config_load(&cfg, &err), 0);
    assert_string_equal(cfg.listen, "127.0.0.1:8080");
    assert_string_equal(cfg.database_url, "sqlite:direkt.db");
    assert_int_equal(cfg.workers, 2);
    assert_int_equal(cfg.reply_debounce_ms, 1500);
    assert_null(cfg.ig_app_secret);
    assert_string_equal(cfg.ig_graph_url, "https://graph.instagram.com");
}

static void expect_bad(const char *name, const char *value)
{
    clear_env(NULL);
    setenv(name, value, 1);
    struct app_config cfg;
    struct dk_err err = {0};
    assert_int_equal(app_config_load(&cfg, &err), DK_EINVAL);
    assert_non_null(strstr(err.msg, name));
    assert_null(strchr(err.msg, '\n'));
    unsetenv(name);
}

static void test_app_config_rejects_bad_values(void **state)
{
    (void)state;
    expect_bad("DIREKT_WORKERS", "abc");
    expect_bad("DIREKT_WORKERS", "-1");
    expect_bad("DIREKT_WORKERS", "100000");
    expect_bad("DIREKT_REPLY_DEBOUNCE_MS", "1.5");
    expect_bad("DATABASE_URL", "mysql://localhost/x");
    expect_bad("DATABASE_URL", "sqlite:");
    expect_bad("DIREKT_LISTEN", "nope");
    expect_bad("DIREKT_LISTEN", "127.0.0.1:99999");
    expect_bad("DIREKT_LOG", "loud");
    expect_bad("IG_GRAPH_URL", "ftp://x");
}

static void test_app_config_reads_values_and_aliases(void **state)
{
    (void)state;
    setenv("DIREKT_WORKERS", "7", 1);
    setenv("DATABASE_URL", "postgres://u@localhost/db", 1);
    setenv("CLAUDE_API_KEY", "sk-ant-x", 1);
    setenv("DIREKT_LISTEN", "", 1); /* empty means unset */
    struct app_config cfg;
    struct dk_err err = {0};
    assert_int_equal(app_config_load(&cfg, &err), 0);
    assert_int_equal(cfg.workers, 7);
    assert_string_equal(cfg.database_url, "postgres://u@localhost/db");
    assert_string_equal(cfg.anthropic_api_key, "sk-ant-x");
    assert_string_equal(cfg.listen, "127.0.0.1:8080");
    clear_env(NULL);
}

static void test_app_config_never_prints_secret_values(void **state)
{
    (void)state;
    setenv("ANTHROPIC_API_KEY", "super-secret-value", 1);
    struct app_config cfg;
    struct dk_err err = {0};
    assert_int_equal(app_config_load(&cfg, &err), 0);
    char *out = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&out, &len);
    FILE *saved = stdout;
    stdout = mem;
    app_config_print(&cfg);
    fflush(mem);
    stdout = saved;
    fclose(mem);
    assert_null(strstr(out, "super-secret-value"));
    assert_non_null(strstr(out, "ANTHROPIC_API_KEY"));
    dk_free(out); /* allocated by open_memstream */
    clear_env(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_app_config_defaults, clear_env),
        cmocka_unit_test_setup(test_app_config_rejects_bad_values, clear_env),
        cmocka_unit_test_setup(test_app_config_reads_values_and_aliases, clear_env),
        cmocka_unit_test_setup(test_app_config_never_prints_secret_values, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

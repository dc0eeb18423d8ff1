/*
 * pgtest: databases for test programs (see pgtest.h). The private cluster lives in
 * /tmp/direkt-pg-XXXXXX and is driven by the pg-cluster script; SQLite files go to
 * /tmp/direkt-sqlite-XXXXXX. State is a handful of statics, set on first use and undone by
 * atexit handlers.
 */
#include "pgtest.h"

#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/mem.h"
#include "store/store.h"

extern char **environ;

static char g_cluster_dir[64];
static char *g_cluster_url;
static bool g_cluster_failed;
static char *g_url;
static char *g_db_name;   /* created on a shared server: dropped at exit */
static char *g_maint_url; /* that server's maintenance database */
static char g_sqlite_dir[64];
static char **g_sqlite_urls;
static int g_sqlite_n;

static char *script_path(void)
{
    const char *src = getenv("DIREKT_SOURCE");
    if (src == NULL || src[0] == '\0') {
        fprintf(stderr, "pgtest: DIREKT_SOURCE is not set (ctest sets it to the source tree)\n");
        return NULL;
    }
    return dk_asprintf("%s/tests/support/pg-cluster", src);
}

/* Runs argv, waits, and returns 0 when it exited with status 0. */
static int run(char *const argv[], posix_spawnattr_t *attr, posix_spawn_file_actions_t *fa,
               bool wait)
{
    pid_t pid;
    if (posix_spawnp(&pid, argv[0], fa, attr, argv, environ) != 0) {
        fprintf(stderr, "pgtest: could not run %s\n", argv[0]);
        return -1;
    }
    if (!wait) {
        return 0;
    }
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        return -1;
    }
    return 0;
}

static int cluster_ctl(const char *verb)
{
    char *script = script_path();
    if (script == NULL) {
        return -1;
    }
    char *argv[] = {"bash", script, (char *)verb, g_cluster_dir, NULL};
    int rc = run(argv, NULL, NULL, true);
    if (rc != 0) {
        fprintf(stderr, "pgtest: pg-cluster %s %s failed\n", verb, g_cluster_dir);
    }
    dk_free(script);
    return rc;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void cluster_cleanup(void)
{
    cluster_ctl("stop");
    rm_tree(g_cluster_dir);
    dk_free(g_cluster_url);
    g_cluster_url = NULL;
}

/* Stops and removes the cluster when this process is gone, however it ended (a crash or a
 * ctest timeout skips atexit). Runs in its own session with no terminal or pipes. */
static void start_watchdog(const char *script)
{
    char pid[16];
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    char *argv[] = {"bash",
                    "-c",
                    "while kill -0 \"$0\" 2>/dev/null; do sleep 1; done; "
                    "bash \"$1\" stop \"$2\"; rm -rf \"$2\"",
                    pid,
                    (char *)script,
                    g_cluster_dir,
                    NULL};
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    for (int fd = 0; fd <= 2; fd++) {
        posix_spawn_file_actions_addopen(&fa, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0);
    }
    run(argv, &attr, &fa, false);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
}

const char *pgtest_cluster_url(void)
{
    if (g_cluster_url != NULL || g_cluster_failed || pgtest_skip_pg()) {
        return g_cluster_url;
    }
    g_cluster_failed = true;
    char *script = script_path();
    if (script == NULL) {
        return NULL;
    }
    snprintf(g_cluster_dir, sizeof(g_cluster_dir), "/tmp/direkt-pg-XXXXXX");
    if (mkdtemp(g_cluster_dir) == NULL) {
        perror("pgtest: mkdtemp");
        dk_free(script);
        return NULL;
    }
    start_watchdog(script);
    dk_free(script);
    atexit(cluster_cleanup);
    if (cluster_ctl("start") != 0) {
        return NULL;
    }
    g_cluster_url = dk_asprintf("postgresql:///postgres?host=%s&user=postgres", g_cluster_dir);
    g_cluster_failed = false;
    return g_cluster_url;
}

int pgtest_cluster_stop(void)
{
    return g_cluster_url != NULL ? cluster_ctl("stop") : -1;
}

int pgtest_cluster_start(void)
{
    return g_cluster_url != NULL ? cluster_ctl("start") : -1;
}

bool pgtest_skip_pg(void)
{
    const char *v = getenv("DIREKT_SKIP_PG");
    return v != NULL && strcmp(v, "1") == 0;
}

/* Runs one statement outside a transaction on the database at url. */
static int run_sql(const char *url, const char *sql)
{
    struct store *s = NULL;
    struct dk_err err = {0};
    int rc = store_open(url, NULL, &s, &err);
    if (rc == 0) {
        struct store_conn *c = store_acquire(s, &err);
        rc = c != NULL ? store_exec_script(c, sql, &err) : DK_EUNAVAIL;
        store_release(c);
        store_close(s);
    }
    if (rc != 0) {
        fprintf(stderr, "pgtest: %s: %s\n", sql, err.msg);
    }
    return rc;
}

/* url with its path (the database name) replaced by db. */
static char *url_with_db(const char *url, const char *db)
{
    const char *auth = strstr(url, "://");
    auth = auth != NULL ? auth + 3 : url;
    const char *path = auth + strcspn(auth, "/?#");
    const char *rest = *path == '/' ? path + strcspn(path, "?#") : path;
    return dk_asprintf("%.*s/%s%s", (int)(path - url), url, db, rest);
}

static void drop_db(void)
{
    char *sql = dk_asprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", g_db_name);
    run_sql(g_maint_url, sql);
    dk_free(sql);
    dk_free(g_db_name);
    dk_free(g_maint_url);
    dk_free(g_url);
    g_url = NULL;
}

static void free_url(void)
{
    dk_free(g_url);
    g_url = NULL;
}

const char *pgtest_url(void)
{
    if (g_url != NULL || pgtest_skip_pg()) {
        return g_url;
    }
    const char *shared = getenv("DIREKT_TEST_PG_URL");
    const char *maint = shared != NULL && shared[0] != '\0' ? shared : pgtest_cluster_url();
    if (maint == NULL) {
        return NULL;
    }
    unsigned char rnd[4];
    dk_random_bytes(rnd, sizeof(rnd));
    char *name = dk_asprintf("direkt_test_%d_%02x%02x%02x%02x", (int)getpid(), rnd[0], rnd[1],
                             rnd[2], rnd[3]);
    char *sql = dk_asprintf("CREATE DATABASE %s", name);
    int rc = run_sql(maint, sql);
    dk_free(sql);
    if (rc != 0) {
        dk_free(name);
        return NULL;
    }
    g_url = url_with_db(maint, name);
    if (maint == shared) {
        g_db_name = name;
        g_maint_url = dk_strdup(shared);
        atexit(drop_db);
    } else {
        dk_free(name); /* the whole cluster goes at exit */
        atexit(free_url);
    }
    return g_url;
}

static void sqlite_cleanup(void)
{
    for (int i = 0; i < g_sqlite_n; i++) {
        dk_free(g_sqlite_urls[i]);
    }
    dk_free(g_sqlite_urls);
    rm_tree(g_sqlite_dir);
}

const char *pgtest_sqlite_url(void)
{
    if (g_sqlite_dir[0] == '\0') {
        snprintf(g_sqlite_dir, sizeof(g_sqlite_dir), "/tmp/direkt-sqlite-XXXXXX");
        if (mkdtemp(g_sqlite_dir) == NULL) {
            perror("pgtest: mkdtemp");
            g_sqlite_dir[0] = '\0';
            return NULL;
        }
        atexit(sqlite_cleanup);
    }
    g_sqlite_urls = dk_realloc(g_sqlite_urls, (size_t)(g_sqlite_n + 1) * sizeof(char *));
    g_sqlite_urls[g_sqlite_n] = dk_asprintf("sqlite:%s/%d.db", g_sqlite_dir, g_sqlite_n);
    return g_sqlite_urls[g_sqlite_n++];
}

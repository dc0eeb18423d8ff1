/*
 * app: wiring. Reads the configuration, opens the store, starts and stops the roles (HTTP +
 * webhook writers, workers, scheduler) and runs the one-shot commands.
 */
#ifndef APP_H
#define APP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ai/ai.h"
#include "app/config.h"
#include "store/store.h"

enum app_role {
    APP_ROLE_API = 1u << 0,       /* HTTP API + webhook receiver */
    APP_ROLE_WORKER = 1u << 1,    /* job workers */
    APP_ROLE_SCHEDULER = 1u << 2, /* lease holder: reclaims expired jobs */
    APP_ROLE_ALL = APP_ROLE_API | APP_ROLE_WORKER | APP_ROLE_SCHEDULER,
};

/* Runs the given roles until SIGTERM/SIGINT, then shuts down gracefully. Returns the process
 * exit code. Main thread. */
int app_serve(const struct app_config *cfg, unsigned roles, bool migrate);

/* Opens the store of cfg and (when migrate) brings its schema up to date. Prints one line and
 * returns NULL on failure. */
struct store *app_open_store(const struct app_config *cfg, bool migrate);

/* The secret that verifies webhook signatures: IG_APP_SECRET, or one generated on first use
 * and kept in the database (settings "ig_app_secret"). New string (dk_free), NULL on error. */
char *app_webhook_secret(const struct app_config *cfg, struct store *s, struct dk_err *err);

/* The AI router's configuration (providers, routes, privacy) from cfg. DK_EINVAL with one
 * line naming the variable. */
int app_ai_config(const struct app_config *cfg, struct ai_config *out, struct dk_err *err);

/* The pipeline's Instagram settings (Graph URL and version, fallback token, pacing, the
 * secret key that opens stored tokens) from cfg; out's strings are borrowed from cfg.
 * DK_EINVAL with one line naming DIREKT_SECRET_KEY when it is set but not a key. */
struct pipeline_ig_config;
int app_ig_config(const struct app_config *cfg, struct pipeline_ig_config *out, struct dk_err *err);

/* One-shot commands; each returns the exit code. */
int app_cmd_migrate(const struct app_config *cfg);
int app_cmd_token_create(const struct app_config *cfg, const char *name);
int app_cmd_replay(const struct app_config *cfg, const char *event_id);
int app_cmd_sign(const struct app_config *cfg, const char *path);
/* direkt nlu train|eval|analyze … (argv[2] is the subcommand). */
int app_cmd_nlu(const struct app_config *cfg, int argc, char **argv);
/* direkt chat [--url URL] … : a terminal in which a person plays an Instagram customer
 * (chat_cmd.c; argv[2…] are its options). */
int app_cmd_chat(const struct app_config *cfg, int argc, char **argv);

/* ---- `direkt serve` as a child process (serve_child.c), for `direkt chat` and bench/e2e ---- */

/* Starts exe (a direkt binary; "/proc/self/exe" for this one) as `direkt serve` in its own
 * process group, stopped with SIGTERM should this process die, stdin from /dev/null, stdout and
 * stderr appended to log_path. Its environment is ours with each "NAME=value" of set replacing
 * NAME and each NAME of unset removed. Returns the pid, or -1 with err filled. Main thread. */
pid_t app_child_start(const char *exe, const char *const *set, size_t nset,
                      const char *const *unset, size_t nunset, const char *log_path,
                      struct dk_err *err);
/* Waits up to timeout_ms for GET base_url/readyz = 200 while pid runs. Returns 0 (ready),
 * DK_ECANCELED (it exited: *status is its wait status) or DK_ETIMEOUT. */
int app_child_wait_ready(pid_t pid, const char *base_url, int64_t timeout_ms, int *status);
/* SIGTERM, then waits up to timeout_ms (*status: the wait status). Returns 0 when it exited in
 * time; DK_ETIMEOUT when it had to be killed (SIGKILL). */
int app_child_stop(pid_t pid, int64_t timeout_ms, int *status);
/* A loopback port that nobody listens on right now, for a child's DIREKT_LISTEN (another
 * process may take it first: the child then fails with "could not listen"); 0 when none. */
unsigned app_free_port(void);

/* ---- the Graph API stand-in (graph_standin.c): where direkt's sends land for `direkt chat`
 * and bench/e2e when IG_GRAPH_URL points at it ---- */

/* One request the stand-in received. Everything is borrowed for the callback's duration. */
struct app_standin_req {
    const char *method; /* "GET" or "POST" */
    const char *path;   /* without the query: "/v25.0/17841405822304914/messages" */
    const char *body;   /* raw bytes (NUL-terminated), "" when none */
    size_t len;
    int64_t recv_us;        /* when the request was complete: app_mono_us() */
    const char *message_id; /* the id answered for a message or comment reply, else NULL */
};
/* Called for every request, on an HTTP server thread (several may run at once), before the
 * answer goes out: keep it short. */
typedef void (*app_standin_fn)(void *arg, const struct app_standin_req *r);
struct app_standin;

/* CLOCK_MONOTONIC in microseconds (the clock of app_standin_req.recv_us). Any thread. */
int64_t app_mono_us(void);
/* Starts the stand-in on listen ("127.0.0.1:0": any free port) with threads HTTP threads; fn
 * may be NULL. Returns it, or NULL with err filled (bad address, cannot bind). Main thread. */
struct app_standin *app_standin_start(const char *listen, int threads, app_standin_fn fn, void *arg,
                                      struct dk_err *err);
/* The port it listens on. */
uint16_t app_standin_port(const struct app_standin *s);
/* Stops it (requests in flight get up to 2 s) and frees it; NULL is accepted. Main thread. */
void app_standin_stop(struct app_standin *s);
/* direkt account add|list|remove … (argv[2] is the subcommand; account_cmd.c). */
int app_cmd_account(const struct app_config *cfg, int argc, char **argv);
/* direkt import --account ID [--limit-conversations N] [--restart] (import_cmd.c). */
int app_cmd_import(const struct app_config *cfg, int argc, char **argv);

#endif

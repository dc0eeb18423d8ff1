/*
 * app: wiring. Reads the configuration, opens the store, starts and stops the roles (HTTP +
 * webhook writers, workers, scheduler) and runs the one-shot commands.
 */
#ifndef APP_H
#define APP_H

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

/* One-shot commands; each returns the exit code. */
int app_cmd_migrate(const struct app_config *cfg);
int app_cmd_token_create(const struct app_config *cfg, const char *name);
int app_cmd_replay(const struct app_config *cfg, const char *event_id);
int app_cmd_sign(const struct app_config *cfg, const char *path);
/* direkt nlu train|eval|analyze … (argv[2] is the subcommand). */
int app_cmd_nlu(const struct app_config *cfg, int argc, char **argv);

#endif

/* direkt: command-line entry. Parses the subcommand and hands over to app/. */
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "core/log.h"

#define DIREKT_VERSION "0.1.0"

static void usage(FILE *out)
{
    fprintf(out,
            "direkt %s: a self-hosted AI agent for Instagram Direct\n"
            "\n"
            "usage: direkt COMMAND [OPTIONS]\n"
            "\n"
            "  serve [--role all|api|worker|scheduler] [--no-migrate] [--listen HOST:PORT]\n"
            "                      HTTP API and webhook receiver; by default also the workers\n"
            "                      and the scheduler (the embedded mode)\n"
            "  worker              job workers only (any number of them, on PostgreSQL)\n"
            "  scheduler           reclaims expired jobs; one active per database\n"
            "  migrate             applies database migrations\n"
            "  token create --name NAME\n"
            "                      creates an API token and prints it once\n"
            "  account add|list|remove …\n"
            "                      the Instagram accounts; tokens are stored encrypted with\n"
            "                      DIREKT_SECRET_KEY (direkt account for the options)\n"
            "  import --account ID [--limit-conversations N] [--restart]\n"
            "                      imports the account's history through the Conversations\n"
            "                      API (resumable; IG_ACCESS_TOKEN or the account's token)\n"
            "  replay EVENT_ID     processes a stored webhook delivery again (idempotent)\n"
            "  sign FILE|-         prints the X-Hub-Signature-256 value for a webhook body\n"
            "  nlu train|eval|analyze …\n"
            "                      the local NLU: train and evaluate models, analyse a text\n"
            "                      (direkt nlu for the options)\n"
            "  chat [--url URL] [--as IGSID] …\n"
            "                      a terminal in which you play an Instagram customer: your\n"
            "                      lines go to direkt as signed webhooks, its replies come back\n"
            "                      through a local stand-in for the Graph API, annotated with\n"
            "                      intent, sentiment and confidence (direkt chat --help)\n"
            "  config              prints the settings in force (secrets hidden)\n"
            "  version\n"
            "\n"
            "Configuration comes from the environment: DATABASE_URL (default sqlite:direkt.db),\n"
            "DIREKT_LISTEN (default 127.0.0.1:8080), IG_APP_SECRET, IG_VERIFY_TOKEN, … (direkt "
            "config).\n",
            DIREKT_VERSION);
}

static int serve(const struct app_config *cfg, int argc, char **argv, unsigned roles)
{
    bool migrate = true;
    struct app_config local = *cfg;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--no-migrate") == 0) {
            migrate = false;
        } else if (strcmp(argv[i], "--role") == 0 && i + 1 < argc) {
            const char *r = argv[++i];
            roles = strcmp(r, "all") == 0         ? APP_ROLE_ALL
                    : strcmp(r, "api") == 0       ? APP_ROLE_API
                    : strcmp(r, "worker") == 0    ? APP_ROLE_WORKER
                    : strcmp(r, "scheduler") == 0 ? APP_ROLE_SCHEDULER
                                                  : 0;
            if (roles == 0) {
                fprintf(stderr, "direkt: --role must be all, api, worker or scheduler\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            local.listen = argv[++i];
        } else {
            fprintf(stderr, "direkt: unknown option %s (see direkt help)\n", argv[i]);
            return 2;
        }
    }
    return app_serve(&local, roles, migrate);
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("direkt %s\n", DIREKT_VERSION);
        return 0;
    }
    struct app_config cfg;
    struct dk_err err = {0};
    if (app_config_load(&cfg, &err) != 0) {
        fprintf(stderr, "direkt: %s\n", err.msg);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "serve") == 0) {
        return serve(&cfg, argc, argv, APP_ROLE_ALL);
    }
    if (strcmp(cmd, "worker") == 0) {
        return serve(&cfg, argc, argv, APP_ROLE_WORKER);
    }
    if (strcmp(cmd, "scheduler") == 0) {
        return serve(&cfg, argc, argv, APP_ROLE_SCHEDULER);
    }
    if (strcmp(cmd, "migrate") == 0) {
        return app_cmd_migrate(&cfg);
    }
    if (strcmp(cmd, "token") == 0) {
        if (argc == 5 && strcmp(argv[2], "create") == 0 && strcmp(argv[3], "--name") == 0) {
            return app_cmd_token_create(&cfg, argv[4]);
        }
        fprintf(stderr, "direkt: usage: direkt token create --name NAME\n");
        return 2;
    }
    if (strcmp(cmd, "account") == 0) {
        return app_cmd_account(&cfg, argc, argv);
    }
    if (strcmp(cmd, "import") == 0) {
        return app_cmd_import(&cfg, argc, argv);
    }
    if (strcmp(cmd, "replay") == 0) {
        return app_cmd_replay(&cfg, argc > 2 ? argv[2] : "");
    }
    if (strcmp(cmd, "sign") == 0) {
        return app_cmd_sign(&cfg, argc > 2 ? argv[2] : NULL);
    }
    if (strcmp(cmd, "nlu") == 0) {
        return app_cmd_nlu(&cfg, argc, argv);
    }
    if (strcmp(cmd, "chat") == 0) {
        return app_cmd_chat(&cfg, argc, argv);
    }
    if (strcmp(cmd, "config") == 0) {
        app_config_print(&cfg);
        return 0;
    }
    fprintf(stderr, "direkt: unknown command \"%s\" (see direkt help)\n", cmd);
    return 2;
}

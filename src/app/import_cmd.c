/*
 * app/import_cmd: `direkt import --account ID [--limit-conversations N] [--restart]`: an
 * account's message history through the Conversations API (pipeline/import.c), with a progress
 * bar on a terminal and plain lines otherwise, both on stderr. Exit codes: 0 done (or done
 * before), 1 failure (the import can be run again to continue), 2 usage.
 */
#include "app/app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/mem.h"
#include "pipeline/pipeline.h"

#define BAR_WIDTH 30

static int usage(void)
{
    fprintf(stderr,
            "usage: direkt import --account ID [--limit-conversations N] [--restart]\n"
            "imports the account's conversations through the Conversations API (2 calls/s);\n"
            "an interrupted import continues where it stopped unless --restart is given\n");
    return 2;
}

struct bar {
    bool tty;
    bool drawn;
    int64_t last_conversations; /* plain lines: one per page, or per 10 conversations */
};

static void progress(void *arg, const struct pipeline_import_progress *p)
{
    struct bar *b = arg;
    int64_t total = p->limit > 0 ? p->limit : p->listed;
    if (total < p->conversations) {
        total = p->conversations;
    }
    if (b->tty) {
        int fill = total > 0 ? (int)(p->conversations * BAR_WIDTH / total) : 0;
        char cells[BAR_WIDTH + 1];
        for (int i = 0; i < BAR_WIDTH; i++) {
            cells[i] = i < fill ? '#' : ' ';
        }
        cells[BAR_WIDTH] = '\0';
        fprintf(stderr, "\r[%s] %lld/%lld%s conversations, %lld messages\033[K", cells,
                (long long)p->conversations, (long long)total, p->limit > 0 ? "" : "+",
                (long long)p->messages);
        b->drawn = true;
    } else if (p->page_done || p->conversations - b->last_conversations >= 10) {
        fprintf(stderr, "import: %lld conversations (%lld listed), %lld messages\n",
                (long long)p->conversations, (long long)total, (long long)p->messages);
        b->last_conversations = p->conversations;
    }
    fflush(stderr);
}

static bool parse_count(const char *s, int64_t *out)
{
    char *end = NULL;
    long long v = s != NULL && *s >= '0' && *s <= '9' ? strtoll(s, &end, 10) : 0;
    if (end == NULL || *end != '\0' || v < 1 || v > 1000000000LL) {
        return false;
    }
    *out = v;
    return true;
}

int app_cmd_import(const struct app_config *cfg, int argc, char **argv)
{
    struct pipeline_import_opts o = {0};
    for (int i = 2; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--account") == 0 && v != NULL) {
            o.account_id = v;
            i++;
        } else if (strcmp(argv[i], "--limit-conversations") == 0 && v != NULL) {
            if (!parse_count(v, &o.limit_conversations)) {
                fprintf(stderr, "direkt: --limit-conversations needs a positive number\n");
                return 2;
            }
            i++;
        } else if (strcmp(argv[i], "--restart") == 0) {
            o.restart = true;
        } else {
            return usage();
        }
    }
    if (o.account_id == NULL || *o.account_id == '\0' || strlen(o.account_id) > 64) {
        return usage();
    }
    struct dk_err err = {0};
    struct pipeline_ig_config ig;
    if (app_ig_config(cfg, &ig, &err) != 0) {
        fprintf(stderr, "direkt: %s\n", err.msg);
        return 1;
    }
    struct store *s = app_open_store(cfg, true);
    if (s == NULL) {
        return 1;
    }
    struct ai_http *http = ai_http_start(&(struct ai_http_config){0}, &err);
    if (http == NULL) {
        fprintf(stderr, "direkt: could not start the outbound HTTP loop: %s\n", err.msg);
        store_close(s);
        return 1;
    }
    struct bar b = {.tty = isatty(STDERR_FILENO) == 1};
    o.progress = progress;
    o.progress_arg = &b;
    struct pipeline_import_result r;
    int rc = pipeline_import_run(s, http, &ig, &o, &r, &err);
    if (b.drawn) {
        fputc('\n', stderr);
    }
    ai_http_stop(http);
    store_close(s);
    if (rc != 0) {
        fprintf(stderr, "direkt: could not import account %s: %s\n", o.account_id, err.msg);
        return 1;
    }
    switch (r.end) {
    case PIPELINE_IMPORT_ALREADY:
        printf("account %s already imported (%lld conversations, %lld messages); --restart to "
               "import again\n",
               o.account_id, (long long)r.conversations, (long long)r.messages);
        return 0;
    case PIPELINE_IMPORT_DONE:
        printf("imported account %s: %lld conversations, %lld messages (%lld new in this run)\n",
               o.account_id, (long long)r.conversations, (long long)r.messages,
               (long long)r.new_messages);
        return 0;
    case PIPELINE_IMPORT_TOKEN:
    case PIPELINE_IMPORT_FAILED:
        break;
    }
    fprintf(stderr, "direkt: %s (so far: %lld conversations, %lld messages)\n", err.msg,
            (long long)r.conversations, (long long)r.messages);
    return 1;
}

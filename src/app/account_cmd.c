/*
 * app/account_cmd: `direkt account add|list|remove`: the Instagram accounts of an
 * installation from the command line.
 *   add --id ID [--token TOKEN|-] [--name NAME] [--flavour instagram|facebook] [--page-id ID]
 *       adds an account, or updates the one with this id (the options given replace the
 *       stored values, the others stay) and makes it active again: that is how an account
 *       marked needs_reauth gets its new token (its waiting replies are queued to send in
 *       the same transaction). The token is sealed with DIREKT_SECRET_KEY
 *       before it reaches the database; "-" reads it from standard input (not echoed on a
 *       terminal), which keeps it out of the shell's history.
 *   list [--json]   a table (or the JSON of GET /api/v1/accounts): never the token
 *   remove ID
 * Errors go to stderr with the exit code 2 (usage, configuration) or 1 (failure).
 */
#include "app/app.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "api/api.h"
#include "core/crypto.h"
#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/mem.h"
#include "pipeline/pipeline.h"
#include "store/repo.h"

#define TOKEN_MAX      4096
#define NAME_MAX_BYTES 255

struct add_args {
    const char *id;
    const char *token; /* "-": standard input */
    const char *name;
    const char *flavour;
    const char *page_id;
};

static int usage(void)
{
    fprintf(stderr,
            "usage: direkt account add --id ID [--token TOKEN|-] [--name NAME]\n"
            "                          [--flavour instagram|facebook] [--page-id PAGE_ID]\n"
            "       direkt account list [--json]\n"
            "       direkt account remove ID\n"
            "ID is the Instagram professional account id (entry[].id of the webhooks). A token\n"
            "is stored encrypted with DIREKT_SECRET_KEY; --token - reads it from standard input.\n"
            "Adding an existing ID updates it and makes it active again (re-authentication).\n");
    return 2;
}

static int parse_add(int argc, char **argv, struct add_args *a)
{
    memset(a, 0, sizeof(*a));
    for (int i = 3; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **slot = strcmp(o, "--id") == 0        ? &a->id
                            : strcmp(o, "--token") == 0   ? &a->token
                            : strcmp(o, "--name") == 0    ? &a->name
                            : strcmp(o, "--flavour") == 0 ? &a->flavour
                            : strcmp(o, "--page-id") == 0 ? &a->page_id
                                                          : NULL;
        if (slot == NULL || v == NULL) {
            fprintf(stderr, "direkt: %s %s\n",
                    slot == NULL ? "unknown option" : "missing value for", o);
            return usage();
        }
        *slot = v;
        i++;
    }
    if (a->id == NULL || !api_account_id_valid(a->id)) {
        fprintf(stderr, "direkt: account add needs --id ID (1-64 letters, digits and _-.:)\n");
        return 2;
    }
    if (a->flavour != NULL && strcmp(a->flavour, "instagram") != 0 &&
        strcmp(a->flavour, "facebook") != 0) {
        fprintf(stderr, "direkt: --flavour must be instagram or facebook\n");
        return 2;
    }
    if (a->page_id != NULL && !api_account_id_valid(a->page_id)) {
        fprintf(stderr, "direkt: --page-id must be 1-64 letters, digits and _-.:\n");
        return 2;
    }
    size_t n = a->name != NULL ? strlen(a->name) : 1;
    bool name_ok = n > 0 && n <= NAME_MAX_BYTES;
    for (size_t i = 0; a->name != NULL && i < n; i++) {
        unsigned char ch = (unsigned char)a->name[i];
        name_ok = name_ok && ch >= 0x20 && ch != 0x7f;
    }
    if (!name_ok) {
        fprintf(stderr, "direkt: --name must be 1 to %d bytes without control characters\n",
                NAME_MAX_BYTES);
        return 2;
    }
    return 0;
}

/* One line from standard input, without echo on a terminal; new (dk_secret_free) or NULL. */
static char *read_token(const char *id)
{
    struct termios old, quiet;
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        fprintf(stderr, "access token for account %s: ", id);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    char *buf = dk_calloc(1, TOKEN_MAX + 2);
    bool got = fgets(buf, TOKEN_MAX + 2, stdin) != NULL;
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
        buf[--n] = '\0';
    }
    if (!got) {
        dk_secret_free(buf);
        return NULL;
    }
    return buf;
}

/* Meta's tokens are printable ASCII without spaces. */
static bool valid_token(const char *t)
{
    size_t n = t != NULL ? strlen(t) : 0;
    if (n == 0 || n > TOKEN_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (t[i] <= 0x20 || t[i] >= 0x7f) {
            return false;
        }
    }
    return true;
}

/* The sealed token of a.token (read from stdin for "-") into *sealed; exit code or 0. */
static int seal_token(const struct app_config *cfg, const struct add_args *a, char **sealed)
{
    *sealed = NULL;
    struct pipeline_ig_config ig;
    struct dk_err err = {0};
    if (app_ig_config(cfg, &ig, &err) != 0) {
        fprintf(stderr, "direkt: %s\n", err.msg);
        return 2;
    }
    if (a->token == NULL) {
        explicit_bzero(ig.secret_key, sizeof(ig.secret_key));
        return 0;
    }
    if (!ig.has_secret_key) {
        fprintf(stderr, "direkt: DIREKT_SECRET_KEY is not set: it encrypts access tokens in the "
                        "database (64 hex digits or base64 of 32 bytes: openssl rand -hex 32)\n");
        return 2;
    }
    char *token = strcmp(a->token, "-") == 0 ? read_token(a->id) : dk_strdup(a->token);
    int code = 0;
    if (!valid_token(token)) {
        fprintf(stderr, "direkt: the access token must be 1 to %d visible ASCII characters%s\n",
                TOKEN_MAX, strcmp(a->token, "-") == 0 ? " on one line of standard input" : "");
        code = 2;
    } else {
        *sealed = dk_secret_seal(ig.secret_key, token);
    }
    dk_secret_free(token);
    explicit_bzero(ig.secret_key, sizeof(ig.secret_key));
    return code;
}

static const char *or_kept(const char *given, const char *stored)
{
    return given != NULL ? given : stored;
}

/* Adds or updates the account in one transaction; the exit code. */
static int store_add(struct store_conn *c, const struct add_args *a, const char *sealed)
{
    struct dk_err err = {0};
    struct store_account old = {0};
    bool created = false;
    int rc = store_begin(c, &err);
    if (rc == 0) {
        rc = store_account_load(c, a->id, &old, &err);
    }
    bool existed = rc == 0;
    if (rc == DK_ENOTFOUND) {
        rc = 0;
    }
    const char *flavour = or_kept(a->flavour, existed ? old.flavour : NULL);
    const char *page_id = or_kept(a->page_id, existed ? old.page_id : NULL);
    if (rc == 0 && flavour != NULL && strcmp(flavour, "facebook") == 0 && page_id == NULL) {
        store_rollback(c);
        store_account_clear(&old);
        fprintf(stderr, "direkt: the facebook flavour sends as a Page: give --page-id PAGE_ID\n");
        return 2;
    }
    if (rc == 0) {
        rc = store_account_upsert(c, a->id, or_kept(a->name, existed ? old.name : NULL), flavour,
                                  page_id, or_kept(sealed, existed ? old.token_enc : NULL),
                                  dk_now_ms(), &created, &err);
    }
    /* the account is active again: the replies that waited for it (needs_reauth, throttling)
     * get their send jobs in this transaction */
    int queued = 0;
    if (rc == 0) {
        rc = pipeline_send_resume_account(c, a->id, &queued, &err);
    }
    if (rc == 0) {
        rc = store_commit(c, &err);
    } else {
        store_rollback(c);
    }
    if (rc != 0) {
        store_account_clear(&old);
        fprintf(stderr, "direkt: could not store account %s: %s\n", a->id, err.msg);
        return 1;
    }
    if (created) {
        printf("account %s added (%s)\n", a->id,
               sealed != NULL ? "token stored encrypted"
                              : "no token: sends use IG_ACCESS_TOKEN, or are dry runs without it");
    } else if (strcmp(old.status, "active") != 0) {
        printf("account %s updated (was %s: sends resume)\n", a->id, old.status);
        if (sealed == NULL && old.token_enc != NULL) {
            fprintf(stderr, "note: the stored token is kept; if Meta refused it, give a new one "
                            "with --token\n");
        }
    } else {
        printf("account %s updated\n", a->id);
    }
    if (queued > 0) {
        printf("queued the waiting replies of %d conversation(s)\n", queued);
    }
    store_account_clear(&old);
    return 0;
}

static int cmd_add(const struct app_config *cfg, int argc, char **argv)
{
    struct add_args a;
    int code = parse_add(argc, argv, &a);
    char *sealed = NULL;
    if (code == 0) {
        code = seal_token(cfg, &a, &sealed);
    }
    if (code != 0) {
        return code;
    }
    struct store *s = app_open_store(cfg, true);
    if (s == NULL) {
        dk_free(sealed);
        return 1;
    }
    struct dk_err err = {0};
    struct store_conn *c = store_acquire(s, &err);
    if (c == NULL) {
        fprintf(stderr, "direkt: could not store account %s: %s\n", a.id, err.msg);
        code = 1;
    } else {
        code = store_add(c, &a, sealed);
    }
    store_release(c);
    store_close(s);
    dk_free(sealed);
    return code;
}

static const char *text_or(const json_t *o, const char *key, const char *dflt)
{
    const char *v = dk_json_str(o, key);
    return v != NULL && *v != '\0' ? v : dflt;
}

static void print_table(const json_t *rows)
{
    static const char *const head[] = {"ID", "NAME", "FLAVOUR", "STATUS", "TOKEN", "REASON"};
    int w[5] = {2, 4, 7, 6, 5};
    size_t i;
    const json_t *r;
    json_array_foreach(rows, i, r)
    {
        const char *cells[4] = {text_or(r, "id", "-"), text_or(r, "name", "-"),
                                text_or(r, "flavour", "-"), text_or(r, "status", "-")};
        for (int k = 0; k < 4; k++) {
            int n = (int)strlen(cells[k]);
            w[k] = n > w[k] ? (n > 64 ? 64 : n) : w[k];
        }
    }
    printf("%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", w[0], head[0], w[1], head[1], w[2], head[2], w[3],
           head[3], w[4], head[4], head[5]);
    json_array_foreach(rows, i, r)
    {
        printf("%-*s  %-*.64s  %-*s  %-*s  %-*s  %s\n", w[0], text_or(r, "id", "-"), w[1],
               text_or(r, "name", "-"), w[2], text_or(r, "flavour", "-"), w[3],
               text_or(r, "status", "-"), w[4], dk_json_bool(r, "has_token") ? "yes" : "no",
               text_or(r, "status_reason", "-"));
    }
}

static int cmd_list(const struct app_config *cfg, int argc, char **argv)
{
    bool json = argc == 4 && strcmp(argv[3], "--json") == 0;
    if (argc > 4 || (argc == 4 && !json)) {
        return usage();
    }
    struct store *s = app_open_store(cfg, true);
    if (s == NULL) {
        return 1;
    }
    struct dk_err err = {0};
    json_t *rows = NULL;
    struct store_conn *c = store_acquire(s, &err);
    int rc = c != NULL ? store_account_list(c, &rows, &err) : err.code;
    store_release(c);
    store_close(s);
    if (rc != 0) {
        fprintf(stderr, "direkt: could not list accounts: %s\n", err.msg);
        return 1;
    }
    if (json) {
        json_dumpf(rows, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
    } else if (json_array_size(rows) == 0) {
        printf("no accounts: every webhook entry is processed (direkt account add to add one)\n");
    } else {
        print_table(rows);
    }
    json_decref(rows);
    return 0;
}

static int cmd_remove(const struct app_config *cfg, int argc, char **argv)
{
    if (argc != 4 || !api_account_id_valid(argv[3])) {
        fprintf(stderr, "direkt: account remove needs an ID (1-64 letters, digits and _-.:)\n");
        return 2;
    }
    const char *id = argv[3];
    struct store *s = app_open_store(cfg, true);
    if (s == NULL) {
        return 1;
    }
    struct dk_err err = {0};
    bool found = false;
    struct store_conn *c = store_acquire(s, &err);
    int rc = c != NULL ? store_account_remove(c, id, &found, &err) : err.code;
    store_release(c);
    store_close(s);
    if (rc != 0) {
        fprintf(stderr, "direkt: could not remove account %s: %s\n", id, err.msg);
        return 1;
    }
    if (!found) {
        fprintf(stderr, "direkt: account %s not found\n", id);
        return 1;
    }
    printf("account %s removed\n", id);
    return 0;
}

int app_cmd_account(const struct app_config *cfg, int argc, char **argv)
{
    const char *sub = argc > 2 ? argv[2] : "";
    if (strcmp(sub, "add") == 0) {
        return cmd_add(cfg, argc, argv);
    }
    if (strcmp(sub, "list") == 0) {
        return cmd_list(cfg, argc, argv);
    }
    if (strcmp(sub, "remove") == 0) {
        return cmd_remove(cfg, argc, argv);
    }
    return usage();
}

/*
 * app/chat_int: what the parts of `direkt chat` share: chat_cmd.c (options, the loop, the
 * webhooks out), chat_server.c (the embedded direkt or a running one, HTTP calls) and
 * chat_api.c (the annotations and the reasons read through the REST API). Main thread only,
 * except the event queue (mu, head, tail, evpipe), which the stand-in's threads fill.
 */
#ifndef APP_CHAT_INT_H
#define APP_CHAT_INT_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "app/app.h"
#include "core/mem.h"

#define APP_CHAT_URL_MAX 512

#define APP_CHAT_RESET "\033[0m"
#define APP_CHAT_BOLD  "\033[1m"
#define APP_CHAT_DIM   "\033[2m"
#define APP_CHAT_BOT   "\033[1;36m"
#define APP_CHAT_NOTE  "\033[33m"
#define APP_CHAT_ERR   "\033[31m"

struct app_chat_opts {
    const char *url;          /* a running direkt, or NULL: embedded */
    const char *token;        /* its API token */
    const char *graph_listen; /* the stand-in's address */
    const char *account;
    const char *customer;
    const char *log_path; /* the embedded direkt's log */
    double wait_s;        /* < 0: the default */
};

/* Something the stand-in received that the chat shows: a message (text) or a sender action. */
struct app_chat_event {
    struct app_chat_event *next;
    char recipient[80];
    char *text;      /* new, or NULL for an action */
    char mid[48];    /* the message id the stand-in answered with */
    char action[24]; /* "typing_on", "mark_seen", … or "" */
};

struct app_chat {
    struct app_chat_opts o;
    bool color;    /* stdout is a terminal */
    bool tty_in;   /* stdin is a terminal */
    bool prompted; /* "you ›" is shown on the current line */
    int64_t wait_ms;
    char *secret;                /* signs webhooks (new) */
    char *api_token;             /* new or NULL: no annotations */
    char base[APP_CHAT_URL_MAX]; /* direkt's URL, without a trailing '/' */
    char graph_url[96];          /* the stand-in's URL */
    struct app_standin *standin;
    pid_t child; /* the embedded direkt, or -1 */
    CURL *hook;  /* webhooks out (keep-alive) */
    CURL *api;   /* REST API reads */
    char customer[80];
    char last_mid[96];     /* of the customer's last message */
    char last_bot_mid[48]; /* of the bot's last message to the current customer */
    char last_annotated[40];
    unsigned seq;
    struct dk_buf in; /* keyboard input not yet handled */
    size_t in_off;
    int evpipe[2];
    pthread_mutex_t mu;
    struct app_chat_event *head, *tail;
};

/* Prints one line (or several) in a style (an APP_CHAT_* colour, used only on a terminal). */
void app_chat_say(const struct app_chat *ch, const char *style, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- chat_server.c ---- */
/* One blocking HTTP call on c (kept alive between calls): method "GET" or "POST"; header one
 * extra header line or NULL; body (JSON) or NULL. Returns the status (0: no answer; then *resp
 * holds curl's reason); *resp is initialised here (dk_buf_free it). */
long app_chat_http(CURL *c, const char *method, const char *url, const char *header,
                   const char *body, struct dk_buf *resp);
/* Embedded mode: reads the webhook secret from the database, starts `direkt serve` as a child
 * pointed at the stand-in and waits until it is ready. Returns 0, or 1 after printing why. */
int app_chat_embed(struct app_chat *ch, const struct app_config *cfg);
/* --url mode: the secret (IG_APP_SECRET or the database's), the token, and a readiness check;
 * prints how to start direkt against the stand-in. Returns 0, or 1 after printing why. */
int app_chat_connect(struct app_chat *ch, const struct app_config *cfg);
/* false (after printing why) when the embedded direkt has exited. */
bool app_chat_child_alive(struct app_chat *ch);
/* Stops the embedded direkt (SIGTERM, then waits; SIGKILL after 30 s). Returns 0 when it exited
 * with code 0 or there was none. */
int app_chat_child_stop(struct app_chat *ch);

/* ---- chat_api.c ---- */
/* Under a bot reply: what direkt understood of the customer message it answers. */
void app_chat_annotate(struct app_chat *ch, const char *customer, const char *text);
/* No reply came: why, as far as the API shows it. */
void app_chat_explain(struct app_chat *ch);

#endif

/*
 * app/chat_cmd: `direkt chat`, a terminal in which a person plays an Instagram customer.
 *
 * Each line typed is posted as a webhook in Meta's shape, signed like Meta signs it, to direkt:
 * by default an embedded one (this binary's `direkt serve` as a child process on a free local
 * port, with its log in a file), or a running one (--url). direkt's Graph API calls go to a
 * stand-in inside this process (graph_standin.c), so its replies appear here as they are
 * sent, each annotated with what direkt understood of the customer's message (intent,
 * sentiment, confidence, read through the REST API). When no reply comes, the API tells why.
 *
 * One thread (main) reads the keyboard, posts and prints; the stand-in's HTTP threads only
 * queue what they receive and wake main through a pipe. With a pipe on stdin (tests, scripts)
 * each line waits for its reply (bounded) before the next is read.
 */
#include "app/app.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/chat_int.h"
#include "core/crypto.h"
#include "core/dktime.h"
#include "core/jsonh.h"
#include "core/log.h"
#include "core/mem.h"

#define DEMO_ACCOUNT     "17841405822304914"
#define DEMO_CUSTOMER    "1327813061483247"
#define URL_GRAPH_LISTEN "127.0.0.1:8091"
#define QUIET_MS         400 /* after a reply: more parts of it may follow */
#define INPUT_MAX        (64u * 1024u)

static int g_sigpipe[2] = {-1, -1};

static void on_signal(int sig)
{
    unsigned char b = (unsigned char)sig;
    ssize_t n = write(g_sigpipe[1], &b, 1);
    (void)n;
}

/* ---- what the stand-in received, queued for the main thread ---- */

/* Stand-in thread: keeps what the chat shows of a request (messages and sender actions). */
static void on_standin(void *arg, const struct app_standin_req *r)
{
    struct app_chat *ch = arg;
    json_t *root = json_loadb(r->body, r->len, 0, NULL);
    const char *to = json_string_value(json_object_get(json_object_get(root, "recipient"), "id"));
    json_t *msg = json_object_get(root, "message");
    const char *action = json_string_value(json_object_get(root, "sender_action"));
    if (strcmp(r->method, "POST") != 0 || to == NULL || (msg == NULL && action == NULL)) {
        json_decref(root);
        return;
    }
    struct app_chat_event *e = dk_calloc(1, sizeof(*e));
    snprintf(e->recipient, sizeof(e->recipient), "%s", to);
    snprintf(e->mid, sizeof(e->mid), "%s", r->message_id != NULL ? r->message_id : "");
    if (action != NULL) {
        snprintf(e->action, sizeof(e->action), "%s", action);
    } else if (json_string_value(json_object_get(msg, "text")) != NULL) {
        e->text = dk_strdup(json_string_value(json_object_get(msg, "text")));
    } else {
        json_t *att = json_object_get(msg, "attachment");
        const char *url =
            json_string_value(json_object_get(json_object_get(att, "payload"), "url"));
        const char *type = json_string_value(json_object_get(att, "type"));
        e->text = dk_asprintf("[%s %s]", type != NULL ? type : "attachment", url ? url : "");
    }
    json_decref(root);
    pthread_mutex_lock(&ch->mu);
    if (ch->tail != NULL) {
        ch->tail->next = e;
    } else {
        ch->head = e;
    }
    ch->tail = e;
    pthread_mutex_unlock(&ch->mu);
    unsigned char b = 1;
    ssize_t n = write(ch->evpipe[1], &b, 1);
    (void)n; /* a full pipe already wakes main */
}

static struct app_chat_event *take_events(struct app_chat *ch)
{
    unsigned char buf[256];
    while (read(ch->evpipe[0], buf, sizeof(buf)) > 0) {
    }
    pthread_mutex_lock(&ch->mu);
    struct app_chat_event *e = ch->head;
    ch->head = ch->tail = NULL;
    pthread_mutex_unlock(&ch->mu);
    return e;
}

/* ---- output ---- */

static const char *col(const struct app_chat *ch, const char *code)
{
    return ch->color ? code : "";
}

void app_chat_say(const struct app_chat *ch, const char *style, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(col(ch, style), stdout);
    vprintf(fmt, ap);
    fputs(col(ch, APP_CHAT_RESET), stdout);
    fputc('\n', stdout);
    va_end(ap);
    fflush(stdout);
}

static void prompt(struct app_chat *ch)
{
    if (ch->tty_in && !ch->prompted) {
        printf("%syou ›%s ", col(ch, APP_CHAT_BOLD), col(ch, APP_CHAT_RESET));
        fflush(stdout);
        ch->prompted = true;
    }
}

/* Clears a prompt shown on the current line before something else is printed. */
static void unprompt(struct app_chat *ch)
{
    if (ch->prompted) {
        printf("\r\033[K");
        ch->prompted = false;
    }
}

static void show_event(struct app_chat *ch, const struct app_chat_event *e)
{
    bool mine = strcmp(e->recipient, ch->customer) == 0;
    char who[112] = "";
    if (!mine) {
        snprintf(who, sizeof(who), " (to %s)", e->recipient);
    }
    if (e->action[0] != '\0') {
        if (strcmp(e->action, "typing_on") == 0) {
            app_chat_say(ch, APP_CHAT_DIM, "  bot is typing…%s", who);
        } else if (strcmp(e->action, "mark_seen") == 0) {
            app_chat_say(ch, APP_CHAT_DIM, "  seen%s", who);
        } else if (strcmp(e->action, "react") == 0) {
            app_chat_say(ch, APP_CHAT_DIM, "  bot reacted ❤%s", who);
        }
        return;
    }
    /* one "bot ›" line, continuation lines indented under it */
    const char *t = e->text;
    const char *nl = strchr(t, '\n');
    printf("%sbot ›%s%s %s%.*s%s\n", col(ch, APP_CHAT_BOT), who, col(ch, APP_CHAT_RESET),
           col(ch, APP_CHAT_BOLD), (int)(nl != NULL ? (size_t)(nl - t) : strlen(t)), t,
           col(ch, APP_CHAT_RESET));
    while (nl != NULL) {
        t = nl + 1;
        nl = strchr(t, '\n');
        printf("      %.*s\n", (int)(nl != NULL ? (size_t)(nl - t) : strlen(t)), t);
    }
    fflush(stdout);
    if (mine) {
        snprintf(ch->last_bot_mid, sizeof(ch->last_bot_mid), "%s", e->mid);
    }
    app_chat_annotate(ch, e->recipient, e->text);
}

/* ---- webhooks out ---- */

static void new_mid(struct app_chat *ch, char *out, size_t n)
{
    unsigned char raw[6];
    dk_random_bytes(raw, sizeof(raw));
    snprintf(out, n, "m_chat_%lld_%02x%02x%02x%02x%02x%02x_%u", (long long)dk_now_ms(), raw[0],
             raw[1], raw[2], raw[3], raw[4], raw[5], ++ch->seq);
}

/* Posts one messaging item (stolen) from the customer to the account, signed. Returns true
 * when direkt answered 200; prints why not otherwise. */
static bool post_item(struct app_chat *ch, json_t *item)
{
    int64_t now = dk_now_ms();
    json_object_set_new(item, "sender", json_pack("{s:s}", "id", ch->customer));
    json_object_set_new(item, "recipient", json_pack("{s:s}", "id", ch->o.account));
    json_object_set_new(item, "timestamp", json_integer(now));
    json_t *root = json_pack("{s:s, s:[{s:s, s:I, s:[o]}]}", "object", "instagram", "entry", "id",
                             ch->o.account, "time", (json_int_t)now, "messaging", item);
    char *body = dk_json_dump(root);
    json_decref(root);
    char hex[DK_SHA256_HEX];
    dk_hmac_sha256_hex(ch->secret, strlen(ch->secret), body, strlen(body), hex);
    char sig[96];
    snprintf(sig, sizeof(sig), "X-Hub-Signature-256: sha256=%s", hex);
    char url[APP_CHAT_URL_MAX + 64];
    snprintf(url, sizeof(url), "%s/webhooks/instagram/messages", ch->base);
    struct dk_buf resp;
    long status = app_chat_http(ch->hook, "POST", url, sig, body, &resp);
    dk_free(body);
    bool ok = status == 200;
    if (!ok) {
        unprompt(ch);
        if (status == 0) {
            app_chat_say(ch, APP_CHAT_ERR, "could not post the webhook to %s: %s", url,
                         resp.len > 0 ? resp.data : "no answer");
        } else {
            app_chat_say(ch, APP_CHAT_ERR, "direkt refused the webhook: HTTP %ld %.300s", status,
                         resp.len > 0 ? resp.data : "");
        }
    }
    dk_buf_free(&resp);
    return ok;
}

static bool post_message(struct app_chat *ch, json_t *message)
{
    char mid[96];
    new_mid(ch, mid, sizeof(mid));
    json_object_set_new(message, "mid", json_string(mid));
    if (!post_item(ch, json_pack("{s:o}", "message", message))) {
        return false;
    }
    snprintf(ch->last_mid, sizeof(ch->last_mid), "%s", mid);
    return true;
}

static json_t *attachment(const char *type, const char *url)
{
    return json_pack("{s:[{s:s, s:{s:s}}]}", "attachments", "type", type, "payload", "url", url);
}

/* ---- commands ---- */

static void help(struct app_chat *ch)
{
    app_chat_say(ch, APP_CHAT_DIM,
                 "type a message and press Enter; commands:\n"
                 "  /story      mention the business in a story\n"
                 "  /image URL  send a photo (by URL)\n"
                 "  /like       react ❤ to the bot's last message\n"
                 "  /new        become a new customer (a new conversation)\n"
                 "  /help       this list\n"
                 "  /quit       leave (also Ctrl-D)");
}

/* Runs one line. Returns false when the chat should end. *wait: a reply is expected. */
static bool run_line(struct app_chat *ch, char *line, bool *wait)
{
    *wait = false;
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t')) {
        line[--n] = '\0';
    }
    if (!ch->tty_in) {
        app_chat_say(ch, APP_CHAT_BOLD, "you › %s", line);
    }
    if (n == 0) {
        return true;
    }
    if (strcmp(line, "/quit") == 0 || strcmp(line, "/exit") == 0) {
        return false;
    }
    if (strcmp(line, "/help") == 0) {
        help(ch);
    } else if (strcmp(line, "/story") == 0) {
        *wait = post_message(
            ch,
            attachment("story_mention",
                       "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17889455560051444"
                       "&signature=direkt-chat"));
    } else if (strncmp(line, "/image", 6) == 0 && (line[6] == ' ' || line[6] == '\0')) {
        const char *url = line + 6 + strspn(line + 6, " ");
        if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
            app_chat_say(ch, APP_CHAT_ERR, "usage: /image URL (an http or https URL)");
        } else {
            *wait = post_message(ch, attachment("image", url));
        }
    } else if (strcmp(line, "/like") == 0) {
        if (ch->last_bot_mid[0] == '\0') {
            app_chat_say(ch, APP_CHAT_ERR,
                         "nothing to like yet: the bot has not answered this customer");
        } else if (post_item(ch, json_pack("{s:{s:s, s:s, s:s, s:s}}", "reaction", "mid",
                                           ch->last_bot_mid, "action", "react", "reaction", "love",
                                           "emoji", "❤️"))) {
            app_chat_say(ch, APP_CHAT_DIM, "  you reacted ❤ to the bot's last message");
        }
    } else if (strcmp(line, "/new") == 0) {
        unsigned char raw[8];
        dk_random_bytes(raw, sizeof(raw));
        unsigned long long v = 0;
        memcpy(&v, raw, sizeof(v));
        snprintf(ch->customer, sizeof(ch->customer), "9%015llu", v % 1000000000000000ULL);
        ch->last_bot_mid[0] = '\0';
        app_chat_say(ch, APP_CHAT_DIM, "  you are now customer %s (a new conversation)",
                     ch->customer);
    } else if (line[0] == '/' && strchr(line, ' ') == NULL) {
        app_chat_say(ch, APP_CHAT_ERR, "unknown command %s (/help lists them)", line);
    } else {
        json_t *text = json_string(line);
        if (text == NULL) {
            app_chat_say(ch, APP_CHAT_ERR, "this line is not UTF-8: not sent");
        } else {
            *wait = post_message(ch, json_pack("{s:o}", "text", text));
        }
    }
    return true;
}

/* ---- the loop ---- */

/* The next complete line of the input buffer (NUL-terminated in place), or NULL. At the end of
 * the input a last line without a newline counts too. */
static char *next_line(struct app_chat *ch, bool eof)
{
    if (ch->in_off > 0) {
        memmove(ch->in.data, ch->in.data + ch->in_off, ch->in.len - ch->in_off);
        ch->in.len -= ch->in_off;
        ch->in.data[ch->in.len] = '\0';
        ch->in_off = 0;
    }
    if (ch->in.len == 0) {
        return NULL;
    }
    char *nl = memchr(ch->in.data, '\n', ch->in.len);
    if (nl == NULL && !eof) {
        return NULL;
    }
    if (nl == NULL) {
        nl = ch->in.data + ch->in.len;
        ch->in_off = ch->in.len;
    } else {
        ch->in_off = (size_t)(nl - ch->in.data) + 1;
    }
    *nl = '\0';
    return ch->in.data;
}

/* Reads what stdin has. Returns false at its end. */
static bool read_input(struct app_chat *ch)
{
    char buf[4096];
    ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return true;
    }
    if (n <= 0) {
        return false;
    }
    if (dk_buf_append(&ch->in, buf, (size_t)n) != 0) {
        app_chat_say(ch, APP_CHAT_ERR, "a line longer than %u bytes: dropped", INPUT_MAX);
        dk_buf_reset(&ch->in);
        ch->in_off = 0;
    }
    return true;
}

static int chat_loop(struct app_chat *ch)
{
    bool eof = false;
    bool waiting = false;
    int replies = 0;
    int64_t wait_until = 0, quiet_until = 0;
    help(ch);
    for (;;) {
        int64_t now = dk_mono_ms();
        if (waiting &&
            ((replies > 0 && now >= quiet_until) || (replies == 0 && now >= wait_until))) {
            if (replies == 0) {
                unprompt(ch);
                app_chat_explain(ch);
            }
            waiting = false;
        }
        if (!waiting || ch->tty_in) {
            char *line = next_line(ch, eof);
            if (line != NULL) {
                unprompt(ch);
                bool wait;
                if (!run_line(ch, line, &wait)) {
                    return 0;
                }
                if (wait) {
                    waiting = true;
                    replies = 0;
                    wait_until = dk_mono_ms() + ch->wait_ms;
                }
                continue;
            }
            if (eof) {
                unprompt(ch);
                return 0;
            }
            prompt(ch);
        }
        struct pollfd fds[3] = {{.fd = ch->evpipe[0], .events = POLLIN},
                                {.fd = g_sigpipe[0], .events = POLLIN},
                                {.fd = STDIN_FILENO, .events = POLLIN}};
        nfds_t nfds = (!eof && (!waiting || ch->tty_in)) ? 3 : 2;
        int timeout = 500; /* also the pace of the check on the child */
        if (waiting) {
            int64_t until = replies > 0 ? quiet_until : wait_until;
            timeout = until - now < timeout ? (int)(until - now) : timeout;
            timeout = timeout < 0 ? 0 : timeout;
        }
        if (poll(fds, nfds, timeout) < 0 && errno != EINTR) {
            app_chat_say(ch, APP_CHAT_ERR, "poll failed: %s", strerror(errno));
            return 1;
        }
        if (fds[1].revents != 0) {
            unprompt(ch);
            return 0;
        }
        struct app_chat_event *e = take_events(ch);
        while (e != NULL) {
            struct app_chat_event *next = e->next;
            unprompt(ch);
            show_event(ch, e);
            if (e->action[0] == '\0' && strcmp(e->recipient, ch->customer) == 0) {
                replies++;
                quiet_until = dk_mono_ms() + QUIET_MS;
            }
            dk_free(e->text);
            dk_free(e);
            e = next;
        }
        if (nfds == 3 && fds[2].revents != 0 && !read_input(ch)) {
            eof = true;
        }
        if (!app_chat_child_alive(ch)) {
            return 1;
        }
    }
}

/* ---- options and set-up ---- */

/* Prints the usage to out; returns 2 (the exit code of bad options). */
static int usage(FILE *out)
{
    fprintf(out,
            "usage: direkt chat [--url URL --token TOKEN] [--graph-listen HOST:PORT]\n"
            "                   [--account ID] [--as IGSID] [--log FILE] [--wait SECONDS]\n"
            "  without --url: starts direkt (this binary's serve) in the background on a free\n"
            "  local port with DATABASE_URL, its log in --log (default direkt-chat.log)\n"
            "  --url URL       talk to a running direkt instead, started with\n"
            "                  IG_GRAPH_URL=http://<--graph-listen> and IG_ACCESS_TOKEN set\n"
            "  --graph-listen HOST:PORT\n"
            "                  the Graph API stand-in's address (default %s with --url,\n"
            "                  else any free port)\n"
            "  --token TOKEN   the API token of that direkt (or DIREKT_API_TOKEN), for the\n"
            "                  annotations\n"
            "  --account ID    the business account (default %s)\n"
            "  --as IGSID      the customer you play (default %s)\n"
            "  --wait SECONDS  how long to wait for a reply before saying why none came\n"
            "                  (default 6 on a terminal, 20 with a pipe on stdin)\n"
            "In the chat: /story, /image URL, /like, /new, /help, /quit (or Ctrl-D).\n",
            URL_GRAPH_LISTEN, DEMO_ACCOUNT, DEMO_CUSTOMER);
    return 2;
}

static bool valid_id(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    return n > 0 && n < 64 && strspn(s, "0123456789") == n;
}

/* The options; 0, or the exit code (2: bad options; -1: --help was printed, exit 0). */
static int parse_args(struct app_chat_opts *o, int argc, char **argv)
{
    *o = (struct app_chat_opts){.account = DEMO_ACCOUNT,
                                .customer = DEMO_CUSTOMER,
                                .log_path = "direkt-chat.log",
                                .wait_s = -1};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return -1;
        }
        if (v == NULL) {
            fprintf(stderr, "direkt: chat: %s needs a value\n", a);
            return usage(stderr);
        }
        if (strcmp(a, "--url") == 0) {
            o->url = v;
        } else if (strcmp(a, "--token") == 0) {
            o->token = v;
        } else if (strcmp(a, "--graph-listen") == 0) {
            o->graph_listen = v;
        } else if (strcmp(a, "--account") == 0) {
            o->account = v;
        } else if (strcmp(a, "--as") == 0) {
            o->customer = v;
        } else if (strcmp(a, "--log") == 0) {
            o->log_path = v;
        } else if (strcmp(a, "--wait") == 0) {
            char *end = NULL;
            o->wait_s = strtod(v, &end);
            if (end == v || *end != '\0' || !(o->wait_s > 0 && o->wait_s <= 3600)) {
                fprintf(stderr,
                        "direkt: chat: --wait takes seconds, more than 0 and at most 3600\n");
                return 2;
            }
        } else {
            fprintf(stderr, "direkt: chat: unknown option %s\n", a);
            return usage(stderr);
        }
        i++;
    }
    if (!valid_id(o->account) || !valid_id(o->customer)) {
        fprintf(stderr, "direkt: chat: --account and --as take numeric Instagram ids\n");
        return 2;
    }
    if (o->url != NULL && strncmp(o->url, "http://", 7) != 0 &&
        strncmp(o->url, "https://", 8) != 0) {
        fprintf(stderr, "direkt: chat: --url must be an http:// or https:// URL\n");
        return 2;
    }
    if (o->url != NULL && strlen(o->url) >= APP_CHAT_URL_MAX) {
        fprintf(stderr, "direkt: chat: --url is too long\n");
        return 2;
    }
    return 0;
}

static void setup_signals(void)
{
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

static int open_pipe(int p[2])
{
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
        fprintf(stderr, "direkt: chat: could not create a pipe: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

int app_cmd_chat(const struct app_config *cfg, int argc, char **argv)
{
    struct app_chat ch = {.child = -1, .evpipe = {-1, -1}};
    int rc = parse_args(&ch.o, argc, argv);
    if (rc != 0) {
        return rc < 0 ? 0 : rc;
    }
    snprintf(ch.customer, sizeof(ch.customer), "%s", ch.o.customer);
    ch.tty_in = isatty(STDIN_FILENO);
    ch.color = isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;
    ch.wait_ms = ch.o.wait_s > 0 ? (int64_t)(ch.o.wait_s * 1000) : (ch.tty_in ? 6000 : 20000);
    dk_log_set_level(DK_LOG_WARN); /* the stand-in's own lines would break into the chat */
    if (open_pipe(ch.evpipe) != 0 || open_pipe(g_sigpipe) != 0) {
        return 1;
    }
    setup_signals();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_mutex_init(&ch.mu, NULL);
    dk_buf_init(&ch.in, INPUT_MAX);
    ch.hook = curl_easy_init();
    ch.api = curl_easy_init();

    const char *listen = ch.o.graph_listen != NULL ? ch.o.graph_listen
                         : ch.o.url != NULL        ? URL_GRAPH_LISTEN
                                                   : "127.0.0.1:0";
    struct dk_err err = {0};
    ch.standin = app_standin_start(listen, 2, on_standin, &ch, &err);
    if (ch.standin == NULL) {
        fprintf(stderr, "direkt: chat: could not start the Graph API stand-in on %s: %s\n", listen,
                err.msg);
        rc = 1;
    } else {
        snprintf(ch.graph_url, sizeof(ch.graph_url), "http://127.0.0.1:%u",
                 (unsigned)app_standin_port(ch.standin));
        if (listen[0] != ':' && strncmp(listen, "0.0.0.0:", 8) != 0) {
            const char *colon = strrchr(listen, ':');
            snprintf(ch.graph_url, sizeof(ch.graph_url), "http://%.*s:%u", (int)(colon - listen),
                     listen, (unsigned)app_standin_port(ch.standin));
        }
        rc = ch.o.url != NULL ? app_chat_connect(&ch, cfg) : app_chat_embed(&ch, cfg);
    }
    if (rc == 0) {
        rc = chat_loop(&ch);
    }
    int stop_rc = app_chat_child_stop(&ch);
    app_standin_stop(ch.standin);
    if (rc == 0 && stop_rc != 0) {
        rc = 1;
    }
    struct app_chat_event *e = take_events(&ch);
    while (e != NULL) {
        struct app_chat_event *next = e->next;
        dk_free(e->text);
        dk_free(e);
        e = next;
    }
    curl_easy_cleanup(ch.hook);
    curl_easy_cleanup(ch.api);
    dk_buf_free(&ch.in);
    dk_free(ch.secret);
    dk_free(ch.api_token);
    pthread_mutex_destroy(&ch.mu);
    for (int i = 0; i < 2; i++) {
        close(ch.evpipe[i]);
    }
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    return rc;
}

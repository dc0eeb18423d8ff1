/*
 * app/chat_server: the direkt that `direkt chat` talks to. Embedded: this binary's
 * `direkt serve` as a child process (serve_child.c) on a free loopback port, with IG_GRAPH_URL
 * pointing at the stand-in and the reply debounce short. Or a running one (--url).
 * Also the one blocking HTTP helper the chat uses (libcurl easy, keep-alive).
 */
#include "app/chat_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "core/crypto.h"
#include "core/dktime.h"

#define DEMO_ACCESS_TOKEN "direkt-chat-demo-token"
#define CHAT_DEBOUNCE_MS  "200"
#define READY_TIMEOUT_MS  60000
#define STOP_TIMEOUT_MS   30000

static size_t on_data(char *p, size_t size, size_t n, void *buf)
{
    return dk_buf_append(buf, p, size * n) == 0 ? size * n : 0;
}

long app_chat_http(CURL *c, const char *method, const char *url, const char *header,
                   const char *body, struct dk_buf *resp)
{
    dk_buf_init(resp, 4u << 20);
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    struct curl_slist *list = curl_slist_append(NULL, "Expect:");
    if (header != NULL) {
        list = curl_slist_append(list, header);
    }
    if (strcmp(method, "POST") == 0) {
        list = curl_slist_append(list, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body != NULL ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(body != NULL ? strlen(body) : 0));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    long status = 0;
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    } else {
        dk_buf_reset(resp);
        dk_buf_puts(resp, curl_easy_strerror(rc));
    }
    curl_slist_free_all(list);
    return status;
}

static bool ready(struct app_chat *ch)
{
    char url[APP_CHAT_URL_MAX + 16];
    snprintf(url, sizeof(url), "%s/readyz", ch->base);
    struct dk_buf resp;
    long status = app_chat_http(ch->api, "GET", url, NULL, NULL, &resp);
    dk_buf_free(&resp);
    return status == 200;
}

/* The last lines of the log, to show why the child stopped; *listen_failed when it could not
 * bind its port. */
static void show_log_tail(const struct app_chat *ch, bool print, bool *listen_failed)
{
    FILE *f = fopen(ch->o.log_path, "r");
    if (f == NULL) {
        return;
    }
    char lines[8][512];
    int n = 0;
    while (fgets(lines[n % 8], sizeof(lines[0]), f) != NULL) {
        n++;
    }
    fclose(f);
    for (int i = n > 8 ? n - 8 : 0; i < n; i++) {
        if (print) {
            fprintf(stderr, "  %s", lines[i % 8]);
        }
        if (listen_failed != NULL) {
            *listen_failed = *listen_failed || strstr(lines[i % 8], "could not listen") != NULL;
        }
    }
}

/* Starts the child on a free port and waits for it: 0 ready, 1 failed (said why), 2 it could
 * not bind its port (try another). */
static int start_child(struct app_chat *ch, const struct app_config *cfg)
{
    unsigned port = app_free_port();
    if (port == 0) {
        app_chat_say(ch, APP_CHAT_ERR, "could not find a free local port");
        return 1;
    }
    snprintf(ch->base, sizeof(ch->base), "http://127.0.0.1:%u", port);
    const char *debounce = getenv("DIREKT_REPLY_DEBOUNCE_MS");
    char *set[] = {
        dk_asprintf("DIREKT_LISTEN=127.0.0.1:%u", port),
        dk_asprintf("IG_GRAPH_URL=%s", ch->graph_url),
        dk_asprintf("DIREKT_API_TOKEN=%s", ch->api_token),
        dk_asprintf("DATABASE_URL=%s", cfg->database_url),
        dk_asprintf("IG_ACCESS_TOKEN=%s",
                    cfg->ig_access_token != NULL ? cfg->ig_access_token : DEMO_ACCESS_TOKEN),
        dk_asprintf("DIREKT_REPLY_DEBOUNCE_MS=%s",
                    debounce != NULL && *debounce != '\0' ? debounce : CHAT_DEBOUNCE_MS),
    };
    size_t nset = sizeof(set) / sizeof(set[0]);
    struct dk_err err = {0};
    ch->child = app_child_start("/proc/self/exe", (const char *const *)set, nset, NULL, 0,
                                ch->o.log_path, &err);
    for (size_t i = 0; i < nset; i++) {
        dk_free(set[i]);
    }
    if (ch->child < 0) {
        app_chat_say(ch, APP_CHAT_ERR, "could not start direkt: %s", err.msg);
        return 1;
    }
    int status = 0;
    int rc = app_child_wait_ready(ch->child, ch->base, READY_TIMEOUT_MS, &status);
    if (rc == 0) {
        return 0;
    }
    if (rc == DK_ETIMEOUT) {
        app_chat_say(ch, APP_CHAT_ERR, "direkt did not become ready in %d s (log: %s)",
                     READY_TIMEOUT_MS / 1000, ch->o.log_path);
        return 1;
    }
    ch->child = -1;
    bool listen_failed = false;
    show_log_tail(ch, false, &listen_failed);
    if (listen_failed) {
        return 2;
    }
    app_chat_say(ch, APP_CHAT_ERR,
                 "direkt stopped during start-up; the end of %s:", ch->o.log_path);
    show_log_tail(ch, true, NULL);
    return 1;
}

/* The webhook secret (IG_APP_SECRET or the database's) and the database's URL without its
 * password, for the banner. */
static int read_secret(struct app_chat *ch, const struct app_config *cfg, bool migrate, char *url,
                       size_t url_size)
{
    struct store *s = app_open_store(cfg, migrate);
    if (s == NULL) {
        return 1;
    }
    snprintf(url, url_size, "%s", store_url_redacted(s));
    struct dk_err err = {0};
    ch->secret = app_webhook_secret(cfg, s, &err);
    store_close(s);
    if (ch->secret == NULL) {
        fprintf(stderr, "direkt: chat: could not read the webhook secret: %s\n", err.msg);
        return 1;
    }
    return 0;
}

int app_chat_embed(struct app_chat *ch, const struct app_config *cfg)
{
    char db[512];
    if (read_secret(ch, cfg, true, db, sizeof(db)) != 0) {
        return 1;
    }
    if (cfg->api_token != NULL) {
        ch->api_token = dk_strdup(cfg->api_token);
    } else {
        char token[48];
        dk_token_generate(token); /* this session's, never stored */
        ch->api_token = dk_strdup(token);
    }
    printf("starting direkt (database %s, log %s)…\n", db, ch->o.log_path);
    fflush(stdout);
    int rc = 2;
    for (int attempt = 0; attempt < 3 && rc == 2; attempt++) {
        rc = start_child(ch, cfg);
    }
    if (rc == 0) {
        app_chat_say(ch, APP_CHAT_DIM,
                     "direkt is running at %s (pid %d); its Graph API is the stand-in at %s",
                     ch->base, (int)ch->child, ch->graph_url);
    } else if (rc == 2) {
        app_chat_say(ch, APP_CHAT_ERR, "direkt could not listen on a local port (log: %s)",
                     ch->o.log_path);
    }
    return rc == 0 ? 0 : 1;
}

int app_chat_connect(struct app_chat *ch, const struct app_config *cfg)
{
    snprintf(ch->base, sizeof(ch->base), "%s", ch->o.url);
    size_t n = strlen(ch->base);
    while (n > 0 && ch->base[n - 1] == '/') {
        ch->base[--n] = '\0';
    }
    char db[512];
    if (cfg->ig_app_secret != NULL) {
        ch->secret = dk_strdup(cfg->ig_app_secret);
    } else if (read_secret(ch, cfg, false, db, sizeof(db)) != 0) {
        fprintf(stderr, "direkt: chat: set IG_APP_SECRET to the secret of the direkt at %s\n",
                ch->base);
        return 1;
    }
    const char *token = ch->o.token != NULL ? ch->o.token : cfg->api_token;
    ch->api_token = token != NULL ? dk_strdup(token) : NULL;
    app_chat_say(ch, APP_CHAT_NOTE,
                 "replies reach this chat when direkt sends them to the stand-in: start direkt "
                 "with IG_GRAPH_URL=%s (and IG_ACCESS_TOKEN=any-text unless its accounts have "
                 "tokens)",
                 ch->graph_url);
    if (!ready(ch)) {
        app_chat_say(ch, APP_CHAT_ERR,
                     "direkt at %s is not ready (GET /readyz): messages will "
                     "fail until it is",
                     ch->base);
    }
    if (ch->api_token == NULL) {
        app_chat_say(ch, APP_CHAT_NOTE,
                     "no API token (--token or DIREKT_API_TOKEN): replies "
                     "are shown without intent, sentiment and confidence");
    }
    return 0;
}

bool app_chat_child_alive(struct app_chat *ch)
{
    int status;
    if (ch->child < 0 || waitpid(ch->child, &status, WNOHANG) != ch->child) {
        return true;
    }
    ch->child = -1;
    app_chat_say(ch, APP_CHAT_ERR, "direkt stopped unexpectedly (%s %d); the end of %s:",
                 WIFEXITED(status) ? "exit code" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), ch->o.log_path);
    show_log_tail(ch, true, NULL);
    return false;
}

int app_chat_child_stop(struct app_chat *ch)
{
    if (ch->child < 0) {
        return 0;
    }
    int status = 0;
    int rc = app_child_stop(ch->child, STOP_TIMEOUT_MS, &status);
    ch->child = -1;
    if (rc == DK_ETIMEOUT) {
        app_chat_say(ch, APP_CHAT_ERR, "direkt did not stop within %d s: killed",
                     STOP_TIMEOUT_MS / 1000);
        return 1;
    }
    if (rc == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return 0;
    }
    app_chat_say(ch, APP_CHAT_ERR, "direkt stopped with %s %d (log: %s)",
                 WIFEXITED(status) ? "exit code" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), ch->o.log_path);
    return 1;
}

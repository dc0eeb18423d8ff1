/*
 * bench/http/http_hello: the http module with two tiny routes, for load tests with wrk.
 *
 *   bench_http_hello [listen] [threads]     (default 127.0.0.1:8089, 2 threads)
 *   GET  /api/v1/ping -> {"status":"ok"}
 *   POST /echo        -> {"len":N}  (an HTTP_JSON route: the body is parsed)
 *   GET  /async       -> suspended, answered and resumed by a second thread
 *
 * Runs until SIGINT or SIGTERM, then stops gracefully.
 */
#include "http/http.h"

#include "core/log.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void h_ping(struct http_req *req)
{
    static const char body[] = "{\"status\":\"ok\"}";
    http_reply(req, 200, "application/json", body, sizeof(body) - 1);
}

static void h_echo(struct http_req *req)
{
    size_t len = 0;
    http_req_body(req, &len);
    http_reply_json(req, 200, json_pack("{s:I}", "len", (json_int_t)len));
}

/* A one-slot-per-request queue would be the real thing; a pipe is enough for a benchmark. */
static int g_pipe[2];

static void h_async(struct http_req *req)
{
    http_req_suspend(req);
    if (write(g_pipe[1], &req, sizeof(req)) != (ssize_t)sizeof(req)) {
        http_reply_error(req, 500, "internal", "could not queue the request");
        http_req_resume(req);
    }
}

static void *resumer(void *arg)
{
    (void)arg;
    struct http_req *req;
    while (read(g_pipe[0], &req, sizeof(req)) == (ssize_t)sizeof(req)) {
        static const char body[] = "{\"status\":\"later\"}";
        http_reply(req, 200, "application/json", body, sizeof(body) - 1);
        http_req_resume(req);
    }
    return NULL;
}

static const struct http_route g_routes[] = {
    {HTTP_GET, "/api/v1/ping", h_ping, 0, 0},
    {HTTP_POST, "/echo", h_echo, HTTP_JSON, 0},
    {HTTP_GET, "/async", h_async, 0, 0},
};

int main(int argc, char **argv)
{
    struct http_config cfg = {
        .listen = argc > 1 ? argv[1] : "127.0.0.1:8089",
        .threads = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 2,
    };
    dk_log_set_level(DK_LOG_WARN);
    if (pipe(g_pipe) != 0) {
        perror("pipe");
        return 1;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* before any thread starts: they inherit it */
    pthread_t t;
    pthread_create(&t, NULL, resumer, NULL);

    struct http_server *s = NULL;
    struct dk_err err;
    if (http_server_start(&cfg, g_routes, sizeof(g_routes) / sizeof(g_routes[0]), &s, &err) != 0) {
        fprintf(stderr, "http_hello: %s\n", err.msg);
        return 1;
    }
    printf("listening on port %u\n", (unsigned)http_server_port(s));
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    http_server_stop(s, 2000);
    close(g_pipe[1]);
    pthread_join(t, NULL);
    close(g_pipe[0]);
    return 0;
}

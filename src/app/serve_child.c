/*
 * app/serve_child: `direkt serve` as a child process of another command (`direkt chat`,
 * bench/e2e): started with an environment of its own, in its own process group (so that a
 * Ctrl-C meant for the parent does not reach it; the parent stops it with SIGTERM) and with
 * PR_SET_PDEATHSIG (so that it stops should the parent die), its output in a log file;
 * readiness through GET /readyz; stopped with SIGTERM, SIGKILL after a timeout.
 */
#include "app/app.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/dktime.h"
#include "core/mem.h"

extern char **environ;

/* NAME of "NAME=value" (or of a bare NAME) matches env's entry e. */
static bool names(const char *e, const char *name)
{
    size_t n = strcspn(name, "=");
    return strncmp(e, name, n) == 0 && e[n] == '=';
}

/* Ours, without the names in set and unset, then set (a new NULL-terminated array of
 * borrowed strings: free only the array). */
static const char **child_env(const char *const *set, size_t nset, const char *const *unset,
                              size_t nunset)
{
    size_t n = 0;
    while (environ[n] != NULL) {
        n++;
    }
    const char **env = dk_calloc(n + nset + 1, sizeof(*env));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool drop = false;
        for (size_t j = 0; j < nset && !drop; j++) {
            drop = names(environ[i], set[j]);
        }
        for (size_t j = 0; j < nunset && !drop; j++) {
            drop = names(environ[i], unset[j]);
        }
        if (!drop) {
            env[k++] = environ[i];
        }
    }
    for (size_t j = 0; j < nset; j++) {
        env[k++] = set[j];
    }
    return env;
}

pid_t app_child_start(const char *exe, const char *const *set, size_t nset,
                      const char *const *unset, size_t nunset, const char *log_path,
                      struct dk_err *err)
{
    int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log < 0) {
        dk_err_set(err, DK_EIO, "could not open %s: %s", log_path, strerror(errno));
        return -1;
    }
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    const char **env = child_env(set, nset, unset, nunset);
    char *argv[] = {"direkt", "serve", NULL};
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* only async-signal-safe calls from here to execve */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) {
            _exit(127);
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        dup2(log, STDOUT_FILENO);
        dup2(log, STDERR_FILENO);
        if (devnull >= 0) {
            dup2(devnull, STDIN_FILENO);
        }
        execve(exe, argv, (char *const *)env);
        _exit(127);
    }
    int saved = errno;
    close(log);
    if (devnull >= 0) {
        close(devnull);
    }
    dk_free(env);
    if (pid < 0) {
        dk_err_set(err, DK_EIO, "could not start %s: %s", exe, strerror(saved));
    }
    return pid;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

int app_child_wait_ready(pid_t pid, const char *base_url, int64_t timeout_ms, int *status)
{
    char url[600];
    snprintf(url, sizeof(url), "%s/readyz", base_url);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    int64_t end = dk_mono_ms() + timeout_ms;
    int rc = DK_ETIMEOUT;
    while (dk_mono_ms() < end) {
        if (waitpid(pid, status, WNOHANG) == pid) {
            rc = DK_ECANCELED;
            break;
        }
        long code = 0;
        if (curl_easy_perform(c) == CURLE_OK &&
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code == 200) {
            rc = 0;
            break;
        }
        dk_sleep_ms(50);
    }
    curl_easy_cleanup(c);
    return rc;
}

int app_child_stop(pid_t pid, int64_t timeout_ms, int *status)
{
    kill(pid, SIGTERM);
    int64_t end = dk_mono_ms() + timeout_ms;
    pid_t got = 0;
    while ((got = waitpid(pid, status, WNOHANG)) == 0 && dk_mono_ms() < end) {
        dk_sleep_ms(20);
    }
    if (got != 0) {
        return got == pid ? 0 : DK_EIO;
    }
    kill(pid, SIGKILL);
    waitpid(pid, status, 0);
    return DK_ETIMEOUT;
}

unsigned app_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    unsigned port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0) {
        port = ntohs(a.sin_port);
    }
    if (fd >= 0) {
        close(fd);
    }
    return port;
}

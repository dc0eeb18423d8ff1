/* app/commands: the one-shot commands: migrate, token create, replay, sign. */
#include "app/app.h"

#include <stdio.h>
#include <string.h>

#include "core/crypto.h"
#include "core/dktime.h"
#include "core/mem.h"
#include "pipeline/pipeline.h"
#include "store/repo.h"

int app_cmd_migrate(const struct app_config *cfg)
{
    struct store *s = app_open_store(cfg, false);
    if (s == NULL) {
        return 1;
    }
    struct dk_err err = {0};
    int applied = 0, version = 0;
    int rc = store_migrate(s, &applied, &err);
    if (rc == 0) {
        rc = store_schema_version(s, &version, &err);
    }
    if (rc != 0) {
        fprintf(stderr, "direkt: could not migrate %s: %s\n", store_url_redacted(s), err.msg);
    } else {
        printf("applied %d migration(s); schema version %d (%s)\n", applied, version,
               store_url_redacted(s));
    }
    store_close(s);
    return rc == 0 ? 0 : 1;
}

int app_cmd_token_create(const struct app_config *cfg, const char *name)
{
    if (name == NULL || *name == '\0' || strlen(name) > 200) {
        fprintf(stderr, "direkt: token create needs --name NAME (1 to 200 characters)\n");
        return 2;
    }
    struct store *s = app_open_store(cfg, true);
    if (s == NULL) {
        return 1;
    }
    char token[48], sha[DK_SHA256_HEX];
    dk_token_generate(token);
    dk_sha256_hex(token, strlen(token), sha);
    struct dk_err err = {0};
    int64_t id = 0;
    struct store_conn *c = store_acquire(s, &err);
    int rc = c != NULL ? store_token_insert(c, name, sha, dk_now_ms(), &id, &err) : err.code;
    store_release(c);
    store_close(s);
    if (rc != 0) {
        fprintf(stderr, "direkt: could not create token: %s\n", err.msg);
        return 1;
    }
    /* the token itself is printed once and never stored */
    printf("%s\n", token);
    fprintf(stderr, "created token %lld \"%s\": keep it now, it is not shown again\n",
            (long long)id, name);
    return 0;
}

int app_cmd_replay(const struct app_config *cfg, const char *event_id)
{
    if (!store_is_uuid(event_id)) {
        fprintf(stderr, "direkt: replay needs an EVENT_ID (a UUID, as returned to the webhook)\n");
        return 2;
    }
    struct store *s = app_open_store(cfg, true);
    if (s == NULL) {
        return 1;
    }
    struct dk_err err = {0};
    char *payload = NULL;
    struct ig_delivery *d = NULL;
    struct pipeline_persist_stats st = {0};
    struct store_conn *c = store_acquire(s, &err);
    int rc = c != NULL ? store_webhook_event_payload(c, event_id, &payload, &err) : err.code;
    if (rc == 0) {
        rc = ig_delivery_parse(payload, strlen(payload), &d, &err);
    }
    if (rc == 0) {
        rc = store_begin(c, &err);
    }
    if (rc == 0) {
        struct pipeline_batch *b = pipeline_batch_new(cfg->reply_debounce_ms);
        rc = pipeline_persist_delivery(c, d, b, &st, &err);
        if (rc == 0) {
            rc = pipeline_batch_flush(c, b, &st, &err);
        }
        pipeline_batch_free(b);
        if (rc == 0) {
            rc = store_webhook_event_mark_replayed(c, event_id, dk_now_ms(), &err);
        }
        if (rc == 0) {
            rc = store_commit(c, &err);
        } else {
            store_rollback(c);
        }
    }
    ig_delivery_free(d);
    dk_free(payload);
    store_release(c);
    store_close(s);
    if (rc != 0) {
        fprintf(stderr, "direkt: could not replay event %s: %s\n", event_id, err.msg);
        return 1;
    }
    printf("replayed %s: %d new message(s), %d already stored, %d event(s), %d kept raw, "
           "%d reply job(s)\n",
           event_id, st.messages, st.duplicates, st.events, st.unknown, st.replies);
    return 0;
}

int app_cmd_sign(const struct app_config *cfg, const char *path)
{
    if (path == NULL) {
        fprintf(stderr, "direkt: sign needs a FILE (or - for standard input)\n");
        return 2;
    }
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "direkt: could not open %s\n", path);
        return 1;
    }
    struct dk_buf b;
    dk_buf_init(&b, 16u * 1024u * 1024u);
    char chunk[8192];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        rc = dk_buf_append(&b, chunk, n);
    }
    if (f != stdin) {
        fclose(f);
    }
    if (rc != 0) {
        dk_buf_free(&b);
        fprintf(stderr, "direkt: %s is larger than 16 MiB\n", path);
        return 1;
    }
    char *secret = NULL;
    struct dk_err err = {0};
    struct store *s = NULL;
    if (cfg->ig_app_secret != NULL) {
        secret = dk_strdup(cfg->ig_app_secret);
    } else {
        s = app_open_store(cfg, true);
        secret = s != NULL ? app_webhook_secret(cfg, s, &err) : NULL;
        store_close(s);
    }
    if (secret == NULL) {
        dk_buf_free(&b);
        fprintf(stderr, "direkt: could not read the webhook secret: %s\n", err.msg);
        return 1;
    }
    char hex[DK_SHA256_HEX];
    dk_hmac_sha256_hex(secret, strlen(secret), b.data != NULL ? b.data : "", b.len, hex);
    printf("sha256=%s\n", hex);
    dk_free(secret);
    dk_buf_free(&b);
    return 0;
}

/* fixture: one reader of the shared fixtures for every test program (see fixture.h). */
#include "fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/mem.h"

char *test_fixture(const char *folder, const char *name, size_t *len)
{
    const char *dir = getenv("DIREKT_FIXTURES");
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s/%s", dir != NULL ? dir : "../shared/fixtures", folder,
             name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fail_msg("could not open fixture %s", path);
    }
    struct dk_buf b;
    dk_buf_init(&b, 16u << 20);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        assert_int_equal(dk_buf_append(&b, chunk, n), 0);
    }
    fclose(f);
    assert_int_equal(dk_buf_append(&b, "", 1), 0); /* the NUL, also for an empty file */
    if (len != NULL) {
        *len = b.len - 1;
    }
    return b.data; /* the caller owns it now */
}

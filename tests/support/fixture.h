/* fixture: reading the shared fixtures in unit tests. */
#ifndef TEST_FIXTURE_H
#define TEST_FIXTURE_H

#include <stddef.h>

/* The bytes of $DIREKT_FIXTURES/FOLDER/NAME (../shared/fixtures when unset), NUL-terminated, in
 * a new buffer (dk_free); *len (may be NULL) their count. Fails the test when it is missing. */
char *test_fixture(const char *folder, const char *name, size_t *len);

#endif

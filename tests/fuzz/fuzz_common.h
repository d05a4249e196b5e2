/* fuzz_common.h: shared set-up for the libFuzzer targets (tests/fuzz/fuzz_*.c).
 *
 * APR is initialised once; every input gets its own sub-pool, destroyed after the input so the
 * pool cleanups (jansson references of igraph_json_t) run and LeakSanitizer sees real leaks.
 * fuzz_str() copies the input into the pool as a NUL-terminated string (inputs may hold NULs:
 * the C-string parsers then see the prefix, as they would from Apache). */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

static apr_pool_t *fuzz_root;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (apr_initialize() != APR_SUCCESS || apr_pool_create(&fuzz_root, NULL) != APR_SUCCESS) {
        abort();
    }
    return 0;
}

static inline apr_pool_t *fuzz_pool(void)
{
    apr_pool_t *p = NULL;
    if (apr_pool_create(&p, fuzz_root) != APR_SUCCESS) {
        abort();
    }
    return p;
}

static inline char *fuzz_str(apr_pool_t *p, const uint8_t *data, size_t size)
{
    return apr_pstrmemdup(p, (const char *)data, size);
}

/* Keeps the optimiser from dropping a result. */
static volatile size_t fuzz_sink;
static inline void fuzz_use(const void *v)
{
    fuzz_sink += (size_t)(v != NULL);
}
static inline void fuzz_uses(const char *s)
{
    fuzz_sink += s ? strlen(s) : 0;
}

#endif

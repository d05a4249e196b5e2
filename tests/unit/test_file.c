/* test_file.c: unit tests for igraph_file.c (run as root for the walk; as another user only the
 * flag checks are exercised). The Apache user is played by uid/gid 33 (www-data). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "igraph_file.h"
#include "support.h"

#define OTHER 33

static char base[] = "/tmp/igraph-file-XXXXXX";

static const char *at(apr_pool_t *p, const char *name)
{
    return apr_pstrcat(p, base, "/", name, NULL);
}

static void put(apr_pool_t *p, const char *name, const char *text, mode_t mode)
{
    FILE *f = fopen(at(p, name), "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(at(p, name), mode), 0);
}

static apr_status_t try_open(apr_pool_t *p, const char *name, int flags, const char **err)
{
    int fd = -1;
    apr_status_t rv = igraph_file_open_trusted(at(p, name), flags, &fd, NULL, p, err);
    if (rv == APR_SUCCESS) {
        char buf[16] = "";
        assert_true(fd >= 0);
        assert_true(read(fd, buf, sizeof(buf) - 1) > 0);
        close(fd);
    }
    else {
        assert_int_equal(fd, -1);
        assert_non_null(*err);
    }
    return rv;
}

static int setup(void **state)
{
    apr_pool_t *p;
    int rc = test_pool_setup(state);
    p = *state;
    if (rc || !mkdtemp(base) || chmod(base, 0755)) {
        return -1;
    }
    /* root's own directory, and one the "Apache user" owns */
    if (mkdir(at(p, "root"), 0755) || mkdir(at(p, "www"), 0755) ||
        chown(at(p, "www"), OTHER, OTHER)) {
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
    assert_int_equal(system(cmd), 0);
    memcpy(base + strlen(base) - 6, "XXXXXX", 6);
    return test_pool_teardown(state);
}

static void test_plain_files(void **state)
{
    apr_pool_t *p = *state;
    const char *err = NULL;
    int fd = -1;

    put(p, "root/secret", "s3cret\n", 0600);
    put(p, "www/secret", "s3cret\n", 0644);
    assert_int_equal(try_open(p, "root/secret", 0, &err), APR_SUCCESS);
    assert_int_equal(try_open(p, "www/secret", 0, &err), APR_SUCCESS);
    assert_int_equal(try_open(p, "root/./secret", 0, &err), APR_SUCCESS);
    assert_int_equal(try_open(p, "www/../root/secret", 0, &err), APR_SUCCESS);
    /* a directory, a missing file, a relative path */
    assert_int_equal(try_open(p, "root", 0, &err), APR_EINVAL);
    assert_true(APR_STATUS_IS_ENOENT(try_open(p, "root/missing", 0, &err)));
    assert_non_null(strstr(err, "missing"));
    assert_int_equal(igraph_file_open_trusted("relative", 0, &fd, NULL, p, &err), APR_EINVAL);
    /* a FIFO is refused without blocking */
    assert_int_equal(mkfifo(at(p, "www/fifo"), 0644), 0);
    assert_int_equal(try_open(p, "www/fifo", 0, &err), APR_EINVAL);
}

static void test_links(void **state)
{
    apr_pool_t *p = *state;
    const char *err = NULL;

    if (geteuid() != 0) {
        skip();
    }
    put(p, "root/secret", "s3cret\n", 0600);
    /* a link in root's directory is followed; one in the Apache user's is not */
    assert_int_equal(symlink(at(p, "root/secret"), at(p, "root/link")), 0);
    assert_int_equal(symlink(at(p, "root/secret"), at(p, "www/link")), 0);
    assert_int_equal(try_open(p, "root/link", 0, &err), APR_SUCCESS);
    assert_int_equal(try_open(p, "www/link", 0, &err), IGRAPH_EUNSAFE);
    assert_non_null(strstr(err, "www/link"));
    /* nor a link in root's directory that leads through the Apache user's */
    assert_int_equal(symlink("../www/link", at(p, "root/via")), 0);
    assert_int_equal(try_open(p, "root/via", 0, &err), IGRAPH_EUNSAFE);
    /* a directory link counts too */
    assert_int_equal(symlink(at(p, "root"), at(p, "www/dir")), 0);
    assert_int_equal(try_open(p, "www/dir/secret", 0, &err), IGRAPH_EUNSAFE);
    /* a hard link in the Apache user's directory is not read; in root's it is */
    assert_int_equal(link(at(p, "root/secret"), at(p, "www/hard")), 0);
    assert_int_equal(try_open(p, "www/hard", 0, &err), IGRAPH_EUNSAFE);
    assert_int_equal(try_open(p, "root/secret", 0, &err), APR_SUCCESS);
    /* a group-writable directory of another group is another user's */
    assert_int_equal(chown(at(p, "root"), 0, OTHER), 0);
    assert_int_equal(chmod(at(p, "root"), 0775), 0);
    assert_int_equal(try_open(p, "root/link", 0, &err), IGRAPH_EUNSAFE);
    assert_int_equal(chmod(at(p, "root"), 0755), 0);
    assert_int_equal(try_open(p, "root/link", 0, &err), APR_SUCCESS);
    /* a directory, opened for *at() calls, the same way */
    {
        int fd = -1;
        assert_int_equal(
            igraph_file_open_trusted(at(p, "www"), IGRAPH_FILE_DIRECTORY, &fd, NULL, p, &err),
            APR_SUCCESS);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(
            igraph_file_open_trusted(at(p, "www/dir"), IGRAPH_FILE_DIRECTORY, &fd, NULL, p, &err),
            IGRAPH_EUNSAFE);
        assert_int_equal(fd, -1);
        assert_true(APR_STATUS_IS_ENOTDIR(igraph_file_open_trusted(
            at(p, "root/secret"), IGRAPH_FILE_DIRECTORY, &fd, NULL, p, &err)));
    }
    /* the last component may be required to be no link at all */
    assert_int_equal(try_open(p, "root/link", IGRAPH_FILE_NO_LINK, &err), IGRAPH_EUNSAFE);
    assert_non_null(strstr(err, "symbolic link"));
}

static void test_private(void **state)
{
    apr_pool_t *p = *state;
    const char *err = NULL;

    put(p, "root/key", "k\n", 0600);
    assert_int_equal(try_open(p, "root/key", IGRAPH_FILE_PRIVATE, &err), APR_SUCCESS);
    assert_int_equal(chmod(at(p, "root/key"), 0640), 0);
    assert_int_equal(try_open(p, "root/key", IGRAPH_FILE_PRIVATE, &err), IGRAPH_EUNSAFE);
    assert_non_null(strstr(err, "chmod 600"));
    assert_int_equal(chmod(at(p, "root/key"), 0602), 0);
    assert_int_equal(try_open(p, "root/key", IGRAPH_FILE_PRIVATE, &err), IGRAPH_EUNSAFE);
    if (geteuid() != 0) {
        return;
    }
    assert_int_equal(chmod(at(p, "root/key"), 0600), 0);
    assert_int_equal(chown(at(p, "root/key"), OTHER, OTHER), 0);
    assert_int_equal(try_open(p, "root/key", IGRAPH_FILE_PRIVATE, &err), IGRAPH_EUNSAFE);
    assert_non_null(strstr(err, "chown root:root"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_links, setup, teardown),
        cmocka_unit_test_setup_teardown(test_private, setup, teardown),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_terminate();
    return rc;
}

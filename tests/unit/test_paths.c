/* Redirect targets: only same-host paths (mod_auth_openidc's open-redirect lessons). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "igraph_util.h"

static void test_local_paths(void **state)
{
    static const char *const good[] = {"/", "/ig/accounts", "/ig/accounts?connected=1",
                                       "/a/b.c/d", "/x?next=//evil", NULL};
    static const char *const bad[] = {"", "ig", "//evil.example", "/\\\\evil.example",
                                      "http://evil.example/", "/a\\\\b", "/a\\rb", "/a\\nb",
                                      "/a\\tb", "/../x", "/a/../../x", "/a/./b", "/a/..",
                                      "/\\x7f", "/caf\\xc3\\xa9", "javascript:alert(1)", NULL};
    char longp[600];
    int i;
    for (i = 0; good[i]; i++) {
        assert_true(igraph_is_local_path(good[i]));
    }
    for (i = 0; bad[i]; i++) {
        assert_false(igraph_is_local_path(bad[i]));
    }
    assert_false(igraph_is_local_path(NULL));
    longp[0] = '/';
    for (i = 1; i < 599; i++) {
        longp[i] = 'a';
    }
    longp[599] = '\0';
    assert_false(igraph_is_local_path(longp));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

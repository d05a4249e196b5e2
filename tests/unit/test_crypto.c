/* test_crypto.c: unit tests for igraph_crypto.c. */
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

#include "igraph_crypto.h"
#include "support.h"

static void make_key(igraph_key_t *key, unsigned char seed)
{
    int i;

    for (i = 0; i < IGRAPH_KEY_LEN; ++i) {
        key->k[i] = (unsigned char)(seed + i);
    }
}

static void test_seal_roundtrip(void **state)
{
    apr_pool_t *p = *state;
    const char *msg = "EAAB-secret-token";
    igraph_key_t key;
    char *s1, *s2;
    unsigned char *pt;
    apr_size_t len;

    make_key(&key, 1);
    assert_int_equal(igraph_seal(p, &key, "acct:1:token", msg, strlen(msg), &s1), APR_SUCCESS);
    assert_int_equal(strncmp(s1, "v1.", 3), 0);
    /* 12 + 17 + 16 = 45 bytes -> 60 base64url chars, no padding. */
    assert_int_equal(strlen(s1), 3 + 60);
    assert_null(strchr(s1, '='));
    assert_null(strstr(s1, "secret"));
    assert_int_equal(igraph_unseal(p, &key, "acct:1:token", s1, &pt, &len), APR_SUCCESS);
    assert_int_equal(len, strlen(msg));
    assert_memory_equal(pt, msg, len);
    assert_int_equal(pt[len], '\0');

    /* Fresh nonce: same input, different output. */
    assert_int_equal(igraph_seal(p, &key, "acct:1:token", msg, strlen(msg), &s2), APR_SUCCESS);
    assert_string_not_equal(s1, s2);
    assert_memory_not_equal(s1 + 3, s2 + 3, 16);

    /* Empty plaintext and NULL aad. */
    assert_int_equal(igraph_seal(p, &key, NULL, "", 0, &s1), APR_SUCCESS);
    assert_int_equal(igraph_unseal(p, &key, NULL, s1, &pt, &len), APR_SUCCESS);
    assert_int_equal(len, 0);
    assert_int_equal(pt[0], '\0');

    /* String conveniences. */
    s1 = igraph_seal_str(p, &key, "ctx", "hello");
    assert_non_null(s1);
    assert_string_equal(igraph_unseal_str(p, &key, "ctx", s1), "hello");
    assert_null(igraph_unseal_str(p, &key, "other", s1));
    /* Embedded NUL cannot come back as a C string. */
    assert_int_equal(igraph_seal(p, &key, "ctx", "a\0b", 3, &s1), APR_SUCCESS);
    assert_null(igraph_unseal_str(p, &key, "ctx", s1));
    assert_int_equal(igraph_unseal(p, &key, "ctx", s1, &pt, &len), APR_SUCCESS);
    assert_int_equal(len, 3);
}

static void test_seal_tamper(void **state)
{
    apr_pool_t *p = *state;
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *msg = "a secret";
    igraph_key_t key, other;
    unsigned char *raw, *pt;
    apr_size_t rawlen, len, i;
    char *sealed, *b64, *bad;
    int bit;

    make_key(&key, 1);
    make_key(&other, 2);
    assert_int_equal(igraph_seal(p, &key, "aad", msg, strlen(msg), &sealed), APR_SUCCESS);
    assert_int_equal(igraph_b64url_decode(p, sealed + 3, strlen(sealed + 3), &raw, &rawlen),
                     APR_SUCCESS);
    assert_int_equal(rawlen, 12 + strlen(msg) + 16);
    /* Flip every bit of every byte of nonce, ciphertext and tag. */
    for (i = 0; i < rawlen; ++i) {
        for (bit = 0; bit < 8; ++bit) {
            raw[i] ^= (unsigned char)(1 << bit);
            b64 = igraph_b64url_encode(p, raw, rawlen);
            bad = apr_pstrcat(p, "v1.", b64, NULL);
            if (igraph_unseal(p, &key, "aad", bad, &pt, &len) != APR_EGENERAL) {
                fail_msg("tampered byte %d bit %d not detected", (int)i, bit);
            }
            assert_null(pt);
            raw[i] ^= (unsigned char)(1 << bit);
        }
    }
    /* Changing any character of the text: either malformed or unauthenticated, never success. */
    for (i = 3; sealed[i]; ++i) {
        bad = apr_pstrdup(p, sealed);
        bad[i] = (bad[i] == 'A') ? 'B' : 'A';
        assert_int_not_equal(igraph_unseal(p, &key, "aad", bad, &pt, &len), APR_SUCCESS);
        bad[i] = alpha[(strchr(alpha, sealed[i]) - alpha + 32) % 64];
        assert_int_not_equal(igraph_unseal(p, &key, "aad", bad, &pt, &len), APR_SUCCESS);
    }
    /* Truncated ciphertext. */
    bad = apr_pstrndup(p, sealed, strlen(sealed) - 4);
    assert_int_not_equal(igraph_unseal(p, &key, "aad", bad, &pt, &len), APR_SUCCESS);

    assert_int_equal(igraph_unseal(p, &key, "aad2", sealed, &pt, &len), APR_EGENERAL);
    assert_int_equal(igraph_unseal(p, &key, NULL, sealed, &pt, &len), APR_EGENERAL);
    assert_int_equal(igraph_unseal(p, &other, "aad", sealed, &pt, &len), APR_EGENERAL);
    assert_int_equal(igraph_unseal(p, &key, "aad", sealed, &pt, &len), APR_SUCCESS);
}

static void test_seal_malformed(void **state)
{
    apr_pool_t *p = *state;
    igraph_key_t key;
    unsigned char *pt;
    apr_size_t len;
    char *sealed;

    make_key(&key, 1);
    assert_int_equal(igraph_seal(p, &key, NULL, "x", 1, &sealed), APR_SUCCESS);
    sealed[1] = '2';
    assert_int_equal(igraph_unseal(p, &key, NULL, sealed, &pt, &len), APR_EINVAL);
    assert_int_equal(igraph_unseal(p, &key, NULL, "v2.", &pt, &len), APR_EINVAL);
    assert_int_equal(igraph_unseal(p, &key, NULL, "v1.", &pt, &len), APR_EINVAL);
    assert_int_equal(igraph_unseal(p, &key, NULL, "garbage", &pt, &len), APR_EINVAL);
    assert_int_equal(igraph_unseal(p, &key, NULL, "v1.!!!!", &pt, &len), APR_EINVAL);
    assert_int_equal(igraph_unseal(p, &key, NULL, "v1.AAAA", &pt, &len), APR_EINVAL);
    /* 27 bytes: one short of nonce + tag. */
    assert_int_equal(igraph_unseal(p, &key, NULL,
                                   apr_pstrcat(p, "v1.",
                                               igraph_b64url_encode(p,
                                                                    "0123456789012345678901234"
                                                                    "56",
                                                                    27),
                                               NULL),
                                   &pt, &len),
                     APR_EINVAL);
    assert_int_equal(igraph_unseal(p, &key, NULL, "", &pt, &len), APR_EINVAL);
    assert_int_equal(igraph_unseal(p, &key, NULL, NULL, &pt, &len), APR_EINVAL);
    assert_null(pt);
}

static void test_b64url(void **state)
{
    apr_pool_t *p = *state;
    unsigned char data[40], *out;
    apr_size_t i, n, outlen;
    char *enc;

    for (i = 0; i < sizeof(data); ++i) {
        data[i] = (unsigned char)(i * 37 + 250);
    }
    for (n = 0; n <= sizeof(data); ++n) {
        enc = igraph_b64url_encode(p, data, n);
        assert_int_equal(strlen(enc), (n * 4 + 2) / 3);
        assert_int_equal(strcspn(enc, "+/="), strlen(enc));
        assert_int_equal(igraph_b64url_decode(p, enc, strlen(enc), &out, &outlen), APR_SUCCESS);
        assert_int_equal(outlen, n);
        assert_memory_equal(out, data, n);
        assert_int_equal(out[n], '\0');
    }
    assert_string_equal(igraph_b64url_encode(p, "\xfb\xff", 2), "-_8");
    assert_string_equal(igraph_b64url_encode(p, "f", 1), "Zg");
    assert_string_equal(igraph_b64url_encode(p, "foobar", 6), "Zm9vYmFy");

    /* With padding. */
    assert_int_equal(igraph_b64url_decode(p, "Zg==", 4, &out, &outlen), APR_SUCCESS);
    assert_int_equal(outlen, 1);
    assert_string_equal((char *)out, "f");
    assert_int_equal(igraph_b64url_decode(p, "Zm8=", 4, &out, &outlen), APR_SUCCESS);
    assert_string_equal((char *)out, "fo");
    assert_int_equal(igraph_b64url_decode(p, "", 0, &out, &outlen), APR_SUCCESS);
    assert_int_equal(outlen, 0);

    assert_int_equal(igraph_b64url_decode(p, "+_8", 3, &out, &outlen), APR_EINVAL);
    assert_int_equal(igraph_b64url_decode(p, "-/8", 3, &out, &outlen), APR_EINVAL);
    assert_int_equal(igraph_b64url_decode(p, "Zm9v YmFy", 9, &out, &outlen), APR_EINVAL);
    assert_int_equal(igraph_b64url_decode(p, "Zm9v\n", 5, &out, &outlen), APR_EINVAL);
    assert_int_equal(igraph_b64url_decode(p, "Zg=", 3, &out, &outlen), APR_EINVAL);
    assert_int_equal(igraph_b64url_decode(p, "Zg===", 5, &out, &outlen), APR_EINVAL);
    assert_int_equal(igraph_b64url_decode(p, "Z=g=", 4, &out, &outlen), APR_EINVAL);
    assert_int_equal(igraph_b64url_decode(p, "Z", 1, &out, &outlen), APR_EINVAL);
    assert_int_equal(igraph_b64url_decode(p, "ZmXYZ", 5, &out, &outlen), APR_EINVAL);
    /* Non-canonical: unused low bits set. */
    assert_int_equal(igraph_b64url_decode(p, "Zh", 2, &out, &outlen), APR_EINVAL);
    assert_null(out);
}

static void test_random(void **state)
{
    apr_pool_t *p = *state;
    unsigned char a[32], b[32];
    char *t1, *t2;

    assert_int_equal(igraph_random_bytes(a, sizeof(a)), APR_SUCCESS);
    assert_int_equal(igraph_random_bytes(b, sizeof(b)), APR_SUCCESS);
    assert_memory_not_equal(a, b, sizeof(a));
    assert_int_equal(igraph_random_bytes(a, 0), APR_SUCCESS);
    t1 = igraph_random_token(p, 32);
    t2 = igraph_random_token(p, 32);
    assert_int_equal(strlen(t1), 43);
    assert_string_not_equal(t1, t2);
    assert_string_equal(igraph_random_token(p, 0), "");
}

static void test_hashes(void **state)
{
    apr_pool_t *p = *state;
    const char *data = "what do ya want for nothing?";
    unsigned char mac[32];

    assert_string_equal(igraph_hmac_sha256_hex(p, "Jefe", 4, data, strlen(data)),
                        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    igraph_hmac_sha256("Jefe", 4, data, strlen(data), mac);
    assert_string_equal(igraph_hex(p, mac, 32),
                        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* Empty key and message (value from `openssl dgst -sha256 -hmac ""`). */
    assert_string_equal(igraph_hmac_sha256_hex(p, "", 0, "", 0),
                        "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
    assert_string_equal(igraph_sha256_hex(p, "abc", 3),
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_string_equal(igraph_sha256_hex(p, "", 0),
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_string_equal(igraph_hex(p, "\x00\xff\x10", 3), "00ff10");
    assert_string_equal(igraph_hex(p, "", 0), "");
}

static void test_ct_equal(void **state)
{
    unsigned char z[4] = {0, 0, 0, 0};

    assert_true(igraph_ct_equal("abc", 3, "abc", 3));
    assert_false(igraph_ct_equal("abc", 3, "abd", 3));
    assert_false(igraph_ct_equal("abc", 3, "abcd", 4));
    assert_false(igraph_ct_equal("abc", 3, "ab", 2));
    assert_true(igraph_ct_equal("", 0, "", 0));
    assert_true(igraph_ct_equal(NULL, 0, NULL, 0));
    assert_false(igraph_ct_equal(z, 4, NULL, 4));
    igraph_secure_zero(NULL, 0);
    memset(z, 0xaa, sizeof(z));
    igraph_secure_zero(z, sizeof(z));
    assert_int_equal(z[0] | z[1] | z[2] | z[3], 0);
}

static void test_key_parse(void **state)
{
    const char *hex = "000102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F";
    igraph_key_t key, ref;
    unsigned char raw[32];
    int i;

    make_key(&ref, 0);
    for (i = 0; i < 32; ++i) {
        raw[i] = (unsigned char)i;
    }
    memset(&key, 0, sizeof(key));
    assert_int_equal(igraph_key_parse(&key, raw, 32), APR_SUCCESS);
    assert_memory_equal(key.k, ref.k, 32);

    memset(&key, 0, sizeof(key));
    assert_int_equal(igraph_key_parse(&key, hex, 64), APR_SUCCESS);
    assert_memory_equal(key.k, ref.k, 32);
    memset(&key, 0, sizeof(key));
    assert_int_equal(igraph_key_parse(&key, apr_pstrcat(*state, hex, "\n", NULL), 65), APR_SUCCESS);
    assert_memory_equal(key.k, ref.k, 32);
    assert_int_equal(igraph_key_parse(&key, apr_pstrcat(*state, hex, " \r\n\t", NULL), 68),
                     APR_SUCCESS);

    assert_int_equal(igraph_key_parse(&key, raw, 31), APR_EINVAL);
    assert_int_equal(igraph_key_parse(&key, raw, 0), APR_EINVAL);
    assert_int_equal(igraph_key_parse(&key, "x", 1), APR_EINVAL);
    /* 32 raw bytes plus a newline is neither form. */
    assert_int_equal(
        igraph_key_parse(&key, apr_pstrcat(*state, "0123456789abcdef0123456789abcdef", "\n", NULL),
                         33),
        APR_EINVAL);
    assert_int_equal(igraph_key_parse(&key, hex, 63), APR_EINVAL);
    assert_int_equal(igraph_key_parse(&key, apr_pstrcat(*state, hex, "0", NULL), 65), APR_EINVAL);
    assert_int_equal(igraph_key_parse(&key, apr_pstrcat(*state, hex, "\nx", NULL), 66), APR_EINVAL);
    assert_int_equal(igraph_key_parse(&key, apr_pstrcat(*state, "g", hex + 1, NULL), 64),
                     APR_EINVAL);
    assert_int_equal(igraph_key_parse(&key, apr_pstrcat(*state, "\n", hex, NULL), 65), APR_EINVAL);
}

static void test_key_load(void **state)
{
    apr_pool_t *p = *state;
    char dir[] = "/tmp/igraph-test-XXXXXX";
    igraph_key_t k1, k2;
    const char *path, *err = NULL;
    struct stat st;
    char buf[128];
    FILE *f;
    size_t n;

    assert_non_null(mkdtemp(dir));
    path = apr_pstrcat(p, dir, "/token.key", NULL);

    /* Missing without create. */
    assert_int_not_equal(igraph_key_load(&k1, path, 0, p, &err), APR_SUCCESS);
    assert_non_null(err);

    err = NULL;
    assert_int_equal(igraph_key_load(&k1, path, 1, p, &err), APR_SUCCESS);
    assert_null(err);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 65);
    f = fopen(path, "r");
    assert_non_null(f);
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    assert_int_equal(n, 65);
    assert_int_equal(buf[64], '\n');
    assert_int_equal(strspn(buf, "0123456789abcdef"), 64);

    assert_int_equal(igraph_key_load(&k2, path, 1, p, &err), APR_SUCCESS);
    assert_memory_equal(k1.k, k2.k, 32);
    assert_int_equal(igraph_key_load(&k2, path, 0, p, &err), APR_SUCCESS);
    assert_memory_equal(k1.k, k2.k, 32);

    /* A bad file: the error names the file but never its content. */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("deadbeefdeadbeef\n", f);
    fclose(f);
    err = NULL;
    assert_int_equal(igraph_key_load(&k2, path, 1, p, &err), APR_EINVAL);
    assert_non_null(err);
    assert_null(strstr(err, "deadbeef"));

    /* Too large. */
    f = fopen(path, "w");
    assert_non_null(f);
    for (n = 0; n < 5000; ++n) {
        fputc(' ', f);
    }
    fclose(f);
    assert_int_equal(igraph_key_load(&k2, path, 0, p, &err), APR_EINVAL);
    assert_non_null(strstr(err, "too large"));

    /* A directory is not a key file. */
    assert_int_equal(igraph_key_load(&k2, dir, 0, p, &err), APR_EINVAL);

    unlink(path);
    rmdir(dir);
}

static int all_zero(const char *b, apr_size_t n)
{
    apr_size_t i;

    for (i = 0; i < n; i++) {
        if (b[i]) {
            return 0;
        }
    }
    return 1;
}

/* Pool memory that held a secret reads as zeroes once the pool is cleared. apr_pool_clear keeps
 * the pool's first block, so these small allocations stay mapped and readable. */
static void test_wipe_on_clear(void **state)
{
    apr_pool_t *p = *state, *sp;
    igraph_key_t key;
    const char *tok = "EAAGtokenSecretValue0123456789";
    char *copy, *plain, *sealed;
    char stack[16] = "not in a pool";
    apr_size_t n = strlen(tok);

    make_key(&key, 9);
    assert_int_equal(apr_pool_create(&sp, p), APR_SUCCESS);
    copy = igraph_pstrdup_secret(sp, tok);
    sealed = igraph_seal_str(p, &key, "aad", tok);
    plain = igraph_unseal_str(sp, &key, "aad", sealed);
    assert_string_equal(copy, tok);
    assert_string_equal(plain, tok);
    assert_null(igraph_pstrdup_secret(sp, NULL));
    igraph_wipe_on_clear(sp, NULL, 5);  /* ignored */
    igraph_wipe_on_clear(sp, stack, 0); /* ignored */
    apr_pool_clear(sp);
    assert_true(all_zero(copy, n + 1));
    assert_true(all_zero(plain, n + 1));
    assert_string_equal(stack, "not in a pool");
    apr_pool_destroy(sp);
}

/* Long-lived secrets sit in their own mapping, flagged "dd" (no dump) in /proc/self/smaps. */
static void test_secret_alloc(void **state)
{
    apr_pool_t *p = *state, *sp;
    unsigned long lo, hi, addr;
    char line[512], *s;
    int in_map = 0, dd = -1;
    FILE *f;

    assert_int_equal(apr_pool_create(&sp, p), APR_SUCCESS);
    s = igraph_secret_strdup(sp, "app-secret-value");
    assert_string_equal(s, "app-secret-value");
    assert_null(igraph_secret_strdup(sp, NULL));
    addr = (unsigned long)s;
    f = fopen("/proc/self/smaps", "r");
    if (!f) {
        apr_pool_destroy(sp);
        skip();
    }
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            in_map = addr >= lo && addr < hi;
        }
        else if (in_map && strncmp(line, "VmFlags:", 8) == 0) {
            dd = strstr(line, " dd") != NULL;
            break;
        }
    }
    fclose(f);
    assert_int_equal(dd, 1);
    apr_pool_destroy(sp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_seal_roundtrip, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_seal_tamper, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_seal_malformed, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_b64url, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_random, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_hashes, test_pool_setup, test_pool_teardown),
        cmocka_unit_test(test_ct_equal),
        cmocka_unit_test_setup_teardown(test_key_parse, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_key_load, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_wipe_on_clear, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_secret_alloc, test_pool_setup, test_pool_teardown),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_terminate();
    return rc;
}

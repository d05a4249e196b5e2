/* mod_igraph.c: module definition and hooks.
 *
 * Connect Instagram professional accounts (Facebook Login, Instagram Business Login) and publish
 * to them through Meta's Graph API. This file wires the Apache-independent core (igraph_*.c) into
 * httpd: start-up checks, the core's log sink, libcurl's global state, and the handler.
 */
#include <curl/curl.h>

#define MIG_DECLARES_MODULE

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>
#include <ap_mpm.h>
#include <http_core.h>
#include <unixd.h>

#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include <errno.h>
#include <string.h>
#include <apr_strings.h>

#include "mod_igraph.h"
#include "igraph_http.h"
#include "igraph_log.h"
#include "mod_igraph_web.h"
#include <http_request.h>

/* Core log messages go to the main server's error log under this module's LogLevel. */
static server_rec *log_server;

static void log_sink(void *baton, int level, const char *file, int line, const char *msg)
{
    server_rec *s = baton ? baton : log_server;
    if (s) {
        ap_log_error(file, line, APLOG_MODULE_INDEX, level, 0, s, "%s", msg);
    }
}

static int module_log_level(const server_rec *s)
{
    if (s->log.module_levels && s->log.module_levels[APLOG_MODULE_INDEX] >= 0) {
        return s->log.module_levels[APLOG_MODULE_INDEX];
    }
    return s->log.level;
}

/* mod_dbd keeps its settings private; its server config starts with a pointer to the public
 * dbd_cfg_t (stable through httpd 2.4), which is all we read: the driver name and parameters. */
static const dbd_cfg_t *dbd_config(server_rec *s)
{
    module *dbd = ap_find_linked_module("mod_dbd.c");
    dbd_cfg_t **pcfg;
    if (!dbd || !(pcfg = ap_get_module_config(s->module_config, dbd)) || !*pcfg) {
        return NULL;
    }
    return *pcfg;
}

/* Says once, at start-up, why storage cannot work, so requests need not call mod_dbd (which
 * logs an error for every acquire without a driver). */
static void check_storage(server_rec *s)
{
    mig_srv_cfg *c = mig_srv(s);
    const dbd_cfg_t *cfg = dbd_config(s);

    c->storage_problem = NULL;
    if (!ap_find_linked_module("mod_dbd.c")) {
        c->storage_problem = "mod_dbd is not loaded";
    }
    else if (!cfg || !cfg->name || cfg->name[0] == '[' || !*cfg->name) {
        c->storage_problem = "no DBDriver is configured";
    }
    if (c->storage_problem && s->is_virtual == 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "IG0008: storage unavailable: %s; mod_igraph routes answer 503 "
                     "storage_unavailable (configure DBDriver sqlite3 and DBDParams)",
                     c->storage_problem);
    }
}

/* Hands one existing file to the run-time user without ever following a link: the directory
 * belongs to that user, who could plant "igraph.db-shm -> /etc/shadow" (or a hard link) and have
 * root chown the target at the next graceful restart. So: lstat, open with O_NOFOLLOW (and
 * O_NONBLOCK, no FIFO can hold us), check that the descriptor is still the same regular file with
 * one link, and fchown the descriptor. Anything else is left alone and logged. */
static void hand_over_file(server_rec *s, const char *f)
{
    struct stat ls, fs;
    int fd;

    if (lstat(f, &ls) != 0) {
        return; /* not there (yet): the children create it as the run-time user */
    }
    if (ls.st_uid == ap_unixd_config.user_id) {
        return;
    }
    if (!S_ISREG(ls.st_mode) || ls.st_nlink != 1) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "IG0014: %s is not a plain file (a symbolic or hard link, or no regular "
                     "file): not handed to the Apache user; remove it, or chown it yourself if "
                     "it is right",
                     f);
        return;
    }
    fd = open(f, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, errno, s,
                     "IG0006: cannot hand %s to the Apache user", f);
        return;
    }
    if (fstat(fd, &fs) != 0 || fs.st_dev != ls.st_dev || fs.st_ino != ls.st_ino ||
        !S_ISREG(fs.st_mode) || fs.st_nlink != 1) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "IG0014: %s changed while it was checked: not handed to the Apache user", f);
    }
    else if (fchown(fd, ap_unixd_config.user_id, ap_unixd_config.group_id) != 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, errno, s,
                     "IG0006: cannot hand %s to the Apache user", f);
    }
    close(fd);
}

/* With SQLite, the children (not root) write the database file and its -wal/-shm companions,
 * so the file's directory must belong to the run-time user. Runs as root in the parent; a no-op
 * for other drivers or non-root starts. */
static void sqlite_ownership(server_rec *s, apr_pool_t *ptemp)
{
    const dbd_cfg_t *cfg = dbd_config(s);
    const char *file, *slash;
    char *dir;
    static const char *const suffixes[] = {"", "-wal", "-shm", NULL};
    struct stat st;
    int i;

    if (!cfg || geteuid() != 0 || !cfg->name || strcmp(cfg->name, "sqlite3") != 0 ||
        !cfg->params || cfg->params[0] != '/') {
        return;
    }
    file = cfg->params;
    slash = strrchr(file, '/');
    dir = apr_pstrndup(ptemp, file, (apr_size_t)(slash - file));
    if (!*dir) {
        return;
    }
    if (stat(dir, &st) != 0) {
        /* a directory we create is ours to hand over; an existing one is the admin's */
        if (apr_dir_make_recursive(dir, APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE |
                                            APR_FPROT_GREAD | APR_FPROT_GEXECUTE,
                                   ptemp) != APR_SUCCESS ||
            lchown(dir, ap_unixd_config.user_id, ap_unixd_config.group_id) != 0) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, errno, s,
                         "IG0006: cannot create the SQLite directory %s for the Apache user",
                         dir);
            return;
        }
    }
    else if (st.st_uid != ap_unixd_config.user_id && !(st.st_mode & S_IWOTH) &&
             !(st.st_gid == ap_unixd_config.group_id && (st.st_mode & S_IWGRP))) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "IG0007: the SQLite directory %s is not writable by the Apache user; "
                     "SQLite needs it for its -wal/-shm files (chown it to the User)",
                     dir);
    }
    for (i = 0; suffixes[i]; i++) {
        hand_over_file(s, apr_pstrcat(ptemp, file, suffixes[i], NULL));
    }
}

static int mig_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    /* The first pass at start-up only checks the configuration ("dry run"). */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    log_server = s;
    igraph_log_set_sink(log_sink, s, module_log_level(s));

    {
        server_rec *vs;
        for (vs = s; vs; vs = vs->next) {
            check_storage(vs);
            sqlite_ownership(vs, ptemp);
        }
    }
    return mig_config_finish(pconf, ptemp, s);
}

/* libcurl is set up in each child, before its threads start (the maintenance thread and the
 * publish workers are started here, after it), and never in the parent, which makes no Graph
 * calls. Its allocator, which zeroes freed blocks, then lives in a process that never unloads
 * this module: a parent reloads modules at every restart, and libcurl would keep calling into
 * the old copy. */
static void mig_child_init(apr_pool_t *pchild, server_rec *s)
{
    int wiping = 0;

    igraph_log_set_sink(log_sink, s, module_log_level(s));
    if (igraph_http_global_init(&wiping) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "IG0005: curl_global_init failed");
        return; /* no background Graph work in this child: no worker either */
    }
    /* no curl_global_cleanup at child exit: the process goes anyway, and tearing libcurl's and
     * OpenSSL's global state down while the MPM may still be unwinding threads is a risk */
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                 wiping ? "IG0013: libcurl set up; its buffers are zeroed when freed"
                        : "IG0013: libcurl was set up by another module; its buffers are not "
                          "zeroed when freed");
    mig_worker_child_init(pchild, s);
}

static void mig_optional_fns(void)
{
    mig_routes_optional_fns();
}

static void mig_register_hooks(apr_pool_t *p)
{
    static const char *const after_dbd[] = {"mod_dbd.c", NULL};

    ap_hook_post_config(mig_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(mig_child_init, after_dbd, NULL, APR_HOOK_MIDDLE);
    ap_hook_optional_fn_retrieve(mig_optional_fns, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(mig_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_insert_filter(mig_web_insert_filters, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_insert_error_filter(mig_web_insert_filters, NULL, NULL, APR_HOOK_MIDDLE);
    mig_web_register_filters();
    mig_worker_register_hooks(p);
}

AP_DECLARE_MODULE(igraph) = {
    STANDARD20_MODULE_STUFF,
    mig_create_dir_cfg,
    mig_merge_dir_cfg,
    mig_create_srv_cfg,
    mig_merge_srv_cfg,
    mig_cmds,
    mig_register_hooks,
    AP_MODULE_FLAG_NONE,
};

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

#include <string.h>
#include <apr_strings.h>

#include "mod_igraph.h"
#include "igraph_http.h"
#include "igraph_log.h"
#include "mod_igraph_web.h"
#include "mod_igraph_worker.h"
#include "mod_igraph_routes.h"
#include "mod_igraph_storage.h"
#include "mod_igraph_mount.h"
#include "mod_igraph_sites.h"
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

/* Runs at every configuration load, `apachectl -t` included: settles the values and finds the
 * mount points, so a mount form that cannot work fails the check. */
static int mig_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                            server_rec *s)
{
    int rc;

    mig_config_settle(pconf, s);
    if ((rc = mig_mount_find(pconf, s)) != OK || (rc = mig_sites_build(pconf, s)) != OK ||
        (rc = mig_config_check_passphrase_files(ptemp)) != OK) {
        return rc;
    }
    if (ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_CONFIG_TEST) {
        mig_mount_check_redirects(ptemp, s);
    }
    return OK;
}

static int mig_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    /* The first pass at start-up only checks the configuration ("dry run"). */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    log_server = s;
    igraph_log_set_sink(log_sink, s, module_log_level(s));

    mig_storage_check(s, ptemp);
    if (mig_storage_post_config(pconf, s) != OK) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    mig_mount_check_redirects(ptemp, s);
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
    mig_storage_child_init(pchild, s);
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

static int mig_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    return mig_storage_pre_config(pconf);
}

static void mig_optional_fns(void)
{
    mig_storage_optional_fns();
    mig_web_optional_fns();
}

static void mig_register_hooks(apr_pool_t *p)
{
    static const char *const after_dbd[] = {"mod_dbd.c", NULL};

    ap_hook_pre_config(mig_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(mig_check_config, NULL, NULL, APR_HOOK_MIDDLE);
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

/* mod_igraph_config.c: IGraph* directives, server/directory configuration, start-up checks.
 *
 * Directive values are validated when the configuration is read, so `apachectl -t` rejects a
 * malformed value with a clear message. Missing credentials are not an error: the module then
 * serves explanatory answers (see mod_igraph_routes.c). Secrets read from files are read once,
 * at configuration time, by the root parent.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_file_io.h>
#include <apr_file_info.h>
#include <http_core.h>

#include "mod_igraph.h"
#include "igraph_log.h"
#include "igraph_util.h"
#include "igraph_file.h"

static const char *const endpoint_names[MIG_EP_COUNT] = {
    "facebook-dialog", "facebook-graph", "instagram-authorize", "instagram-api", "instagram-graph",
};
static const char *const endpoint_defaults[MIG_EP_COUNT] = {
    "https://www.facebook.com",  "https://graph.facebook.com", "https://www.instagram.com",
    "https://api.instagram.com", "https://graph.instagram.com",
};

/* Instagram scope names Meta retired on 27 January 2025; apps sending them cannot call the API. */
static const char *const retired_ig_scopes[] = {
    "business_basic", "business_content_publish", "business_manage_comments",
    "business_manage_messages", NULL,
};

const char *mig_endpoint_name(mig_endpoint_e ep)
{
    return endpoint_names[ep];
}

const char *mig_endpoint_default(mig_endpoint_e ep)
{
    return endpoint_defaults[ep];
}

mig_srv_cfg *mig_srv(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &igraph_module);
}

void *mig_create_srv_cfg(apr_pool_t *p, server_rec *s)
{
    mig_srv_cfg *c = apr_pcalloc(p, sizeof(*c));
    c->require_user = -1;
    c->refresh_before = -1;
    c->maintenance_interval = -1;
    c->publish_wait = -1;
    c->publish_timeout = -1;
    c->graph_timeout = -1;
    c->event_retention = -1;
    c->publish_concurrency = -1;
    c->max_risk = -1;
    c->require_license = -1;
    return c;
}

#define MERGE(f) c->f = add->f ? add->f : base->f

void *mig_merge_srv_cfg(apr_pool_t *p, void *basev, void *addv)
{
    mig_srv_cfg *base = basev, *add = addv, *c = apr_pcalloc(p, sizeof(*c));
    int i;

    MERGE(app_id);
    MERGE(app_secret);
    MERGE(ig_app_id);
    MERGE(ig_app_secret);
    MERGE(redirect_url);
    MERGE(graph_version);
    MERGE(fb_scopes);
    MERGE(ig_scopes);
    MERGE(key_file);
    MERGE(assets_dir);
    for (i = 0; i < MIG_EP_COUNT; i++) {
        MERGE(endpoints[i]);
    }
    c->require_user = (add->require_user != -1) ? add->require_user : base->require_user;
    c->refresh_before = (add->refresh_before != -1) ? add->refresh_before : base->refresh_before;
    c->maintenance_interval = (add->maintenance_interval != -1) ? add->maintenance_interval
                                                                : base->maintenance_interval;
    c->publish_wait = (add->publish_wait != -1) ? add->publish_wait : base->publish_wait;
    c->publish_timeout = (add->publish_timeout != -1) ? add->publish_timeout
                                                      : base->publish_timeout;
    c->graph_timeout = (add->graph_timeout != -1) ? add->graph_timeout : base->graph_timeout;
    c->event_retention = (add->event_retention != -1) ? add->event_retention
                                                      : base->event_retention;
    c->publish_concurrency = (add->publish_concurrency != -1) ? add->publish_concurrency
                                                              : base->publish_concurrency;
    c->max_risk = (add->max_risk >= 0) ? add->max_risk : base->max_risk;
    c->require_license = (add->require_license != -1) ? add->require_license
                                                      : base->require_license;
    MERGE(affiliate_hosts);
    MERGE(webhook_verify_token);
    MERGE(realm);
    return c;
}

void *mig_create_dir_cfg(apr_pool_t *p, char *dir)
{
    mig_dir_cfg *d = apr_pcalloc(p, sizeof(*d));
    d->require_user = -1;
    return d;
}

void *mig_merge_dir_cfg(apr_pool_t *p, void *basev, void *addv)
{
    mig_dir_cfg *base = basev, *add = addv, *d = apr_pcalloc(p, sizeof(*d));
    d->require_user = (add->require_user != -1) ? add->require_user : base->require_user;
    return d;
}

int mig_require_user(request_rec *r)
{
    mig_dir_cfg *d = ap_get_module_config(r->per_dir_config, &igraph_module);
    mig_srv_cfg *c = mig_srv(r->server);
    if (d && d->require_user != -1) {
        return d->require_user;
    }
    return c->require_user != -1 ? c->require_user : 1;
}

int mig_fb_configured(const mig_srv_cfg *c)
{
    return c->app_id && c->app_secret && c->redirect_url;
}

int mig_meta_configured(const mig_srv_cfg *c)
{
    return mig_fb_configured(c) || mig_ig_configured(c);
}

int mig_ig_configured(const mig_srv_cfg *c)
{
    return c->ig_app_id && c->ig_app_secret && c->redirect_url;
}

/* ---- value checks shared by directives and environment fallbacks ---------------------------- */

static const char *check_app_id(apr_pool_t *p, const char *what, const char *v)
{
    if (!igraph_is_numeric_id(v)) {
        return apr_psprintf(p, "%s must be a numeric Meta app id (digits only)", what);
    }
    return NULL;
}

static const char *check_secret(apr_pool_t *p, const char *what, const char *v)
{
    const char *q;
    if (!*v || strlen(v) > 512) {
        return apr_psprintf(p, "%s must be 1 to 512 characters", what);
    }
    for (q = v; *q; q++) {
        if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f) {
            return apr_psprintf(p, "%s must not contain spaces or control characters", what);
        }
    }
    return NULL;
}

static const char *check_redirect(apr_pool_t *p, const char *what, const char *v)
{
    if (!igraph_is_http_url(v) || strchr(v, '#')) {
        return apr_psprintf(p, "%s must be an absolute http(s) URL without a fragment, e.g. "
                               "https://example.org/ig/oauth/callback (got '%s')",
                            what, v);
    }
    return NULL;
}

static const char *check_version(apr_pool_t *p, const char *what, const char *v)
{
    if (!igraph_is_graph_version(v)) {
        return apr_psprintf(p, "%s must look like v26.0 (got '%s')", what, v);
    }
    return NULL;
}

static const char *check_scopes(apr_pool_t *p, int instagram, const char *v, const char **out)
{
    const char *err = NULL;
    char *norm = igraph_scopes_normalize(p, v, &err);
    int i;
    if (!norm) {
        return apr_psprintf(p, "IGraphScopes: %s", err ? err : "invalid scope list");
    }
    if (instagram) {
        for (i = 0; retired_ig_scopes[i]; i++) {
            if (igraph_scopes_contains(norm, retired_ig_scopes[i])) {
                return apr_psprintf(p,
                                    "IGraphScopes instagram: '%s' was retired by Meta on 27 "
                                    "January 2025; use instagram_%s",
                                    retired_ig_scopes[i], retired_ig_scopes[i]);
            }
        }
    }
    *out = norm;
    return NULL;
}

/* Reads a one-line secret from a file at configuration time (parent, as root, before dropping
 * privileges). Root follows no symbolic link that another user (the Apache user) could have
 * planted on the way, and reads no hard link from a directory such a user can write
 * (igraph_file_open_trusted): the file is refused like an unreadable one. */
static const char *read_secret_file(cmd_parms *cmd, const char *what, const char *arg,
                                    const char **out)
{
    const char *path = ap_server_root_relative(cmd->pool, arg);
    char buf[1024];
    apr_size_t n = 0;
    apr_status_t rv;
    const char *err = NULL;
    ssize_t r;
    int fd;

    if (!path) {
        return apr_psprintf(cmd->pool, "%s: invalid path '%s'", what, arg);
    }
    rv = igraph_file_open_trusted(path, 0, &fd, NULL, cmd->temp_pool, &err);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: %s", what, err ? err : path);
    }
    while (n < sizeof(buf) - 1) {
        r = read(fd, buf + n, sizeof(buf) - 1 - n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            rv = r < 0 ? APR_FROM_OS_ERROR(errno) : APR_SUCCESS;
            break;
        }
        n += (apr_size_t)r;
    }
    close(fd);
    if (rv != APR_SUCCESS) {
        igraph_secure_zero(buf, sizeof(buf));
        return apr_psprintf(cmd->pool, "%s: cannot read '%s': %pm", what, path, &rv);
    }
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
                     buf[n - 1] == '\t')) {
        buf[--n] = '\0';
    }
    err = check_secret(cmd->pool, what, buf);
    if (!err) {
        *out = igraph_secret_strdup(cmd->pool, buf);
    }
    igraph_secure_zero(buf, sizeof(buf));
    return err;
}

/* ---- directive handlers -------------------------------------------------------------------- */

static mig_srv_cfg *cmd_srv(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, &igraph_module);
}

typedef const char *check_fn(apr_pool_t *p, const char *what, const char *v);

#define SRV_SLOT(field) ((void *)APR_OFFSETOF(mig_srv_cfg, field))
#define SLOT(c, off) (*(const char **)((char *)(c) + (apr_size_t)(off)))

/* A string directive whose value passes check() lands in the server config slot cmd->info. */
static const char *set_checked(cmd_parms *cmd, check_fn *check, const char *arg)
{
    const char *err = check(cmd->pool, cmd->cmd->name, arg);
    if (!err) {
        SLOT(cmd_srv(cmd), cmd->info) = arg;
    }
    return err;
}

static const char *set_app_id(cmd_parms *cmd, void *dc, const char *arg)
{
    return set_checked(cmd, check_app_id, arg);
}

/* Secrets live in memory that core dumps leave out (igraph_secret_alloc); the word httpd copied
 * out of the configuration line for us is zeroed. */
static const char *set_app_secret(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = check_secret(cmd->pool, cmd->cmd->name, arg);
    if (!err) {
        SLOT(cmd_srv(cmd), cmd->info) = igraph_secret_strdup(cmd->pool, arg);
        igraph_secure_zero((char *)arg, strlen(arg));
    }
    return err;
}

static const char *set_app_secret_file(cmd_parms *cmd, void *dc, const char *arg)
{
    return read_secret_file(cmd, cmd->cmd->name, arg, &SLOT(cmd_srv(cmd), cmd->info));
}

static const char *set_redirect(cmd_parms *cmd, void *dc, const char *arg)
{
    return set_checked(cmd, check_redirect, arg);
}

static const char *set_version(cmd_parms *cmd, void *dc, const char *arg)
{
    return set_checked(cmd, check_version, arg);
}

static const char *set_scopes(cmd_parms *cmd, void *dc, const char *kind, const char *list)
{
    mig_srv_cfg *c = cmd_srv(cmd);
    if (!strcmp(kind, "facebook")) {
        return check_scopes(cmd->pool, 0, list, &c->fb_scopes);
    }
    if (!strcmp(kind, "instagram")) {
        return check_scopes(cmd->pool, 1, list, &c->ig_scopes);
    }
    return apr_psprintf(cmd->pool, "IGraphScopes: first argument must be 'facebook' or "
                                   "'instagram' (got '%s')",
                        kind);
}

static const char *set_endpoint(cmd_parms *cmd, void *dc, const char *name, const char *url)
{
    mig_srv_cfg *c = cmd_srv(cmd);
    char *u;
    apr_size_t n;
    int i;

    for (i = 0; i < MIG_EP_COUNT; i++) {
        if (!strcmp(name, endpoint_names[i])) {
            break;
        }
    }
    if (i == MIG_EP_COUNT) {
        return apr_psprintf(cmd->pool,
                            "IGraphEndpoint: unknown name '%s' (expected facebook-dialog, "
                            "facebook-graph, instagram-authorize, instagram-api or "
                            "instagram-graph)",
                            name);
    }
    if (!igraph_is_http_url(url) || strchr(url, '?') || strchr(url, '#')) {
        return apr_psprintf(cmd->pool,
                            "IGraphEndpoint %s: '%s' is not an absolute http(s) base URL "
                            "without query or fragment",
                            name, url);
    }
    u = apr_pstrdup(cmd->pool, url);
    n = strlen(u);
    while (n > 0 && u[n - 1] == '/') {
        u[--n] = '\0';
    }
    c->endpoints[i] = u;
    return NULL;
}

static const char *set_key_file(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *path = ap_server_root_relative(cmd->pool, arg);
    igraph_key_t k;
    const char *err = NULL;
    apr_status_t rv;

    if (!path) {
        return apr_psprintf(cmd->pool, "IGraphTokenKeyFile: invalid path '%s'", arg);
    }
    /* An existing file must hold a usable key now, so `apachectl -t` catches a broken one. A
     * missing file is created (0600) at start-up; one that root must not read (a link, not
     * root's, readable by others) is refused at start-up like a missing directory (IG0003:
     * Apache serves, the module's routes answer 503), and `apachectl -t` warns about it. */
    rv = igraph_key_load(&k, path, 0, cmd->temp_pool, &err);
    igraph_secure_zero(&k, sizeof(k));
    if (rv == IGRAPH_EUNSAFE) {
        if (ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_CONFIG_TEST) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cmd->server,
                         "IG0041: IGraphTokenKeyFile refused: %s; mod_igraph routes will answer "
                         "503 until it is fixed",
                         err ? err : path);
        }
    }
    else if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOENT(rv)) {
        return apr_psprintf(cmd->pool, "IGraphTokenKeyFile: %s", err ? err : path);
    }
    cmd_srv(cmd)->key_file = path;
    return NULL;
}

static const char *set_assets_dir(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *path = ap_server_root_relative(cmd->pool, arg);
    apr_finfo_t fi;
    if (!path || apr_stat(&fi, path, APR_FINFO_TYPE, cmd->temp_pool) != APR_SUCCESS ||
        fi.filetype != APR_DIR) {
        return apr_psprintf(cmd->pool, "IGraphAssetsDir: '%s' is not a directory", arg);
    }
    cmd_srv(cmd)->assets_dir = path;
    return NULL;
}

static const char *set_require_user(cmd_parms *cmd, void *dc, int flag)
{
    if (cmd->path) {
        ((mig_dir_cfg *)dc)->require_user = flag;
    }
    else {
        cmd_srv(cmd)->require_user = flag;
    }
    return NULL;
}

/* Durations: cmd->info is the offset of the apr_int64_t slot; limits per directive. */
static const char *set_duration(cmd_parms *cmd, void *dc, const char *arg)
{
    mig_srv_cfg *c = cmd_srv(cmd);
    apr_size_t off = (apr_size_t)cmd->info;
    apr_int64_t secs, lo = 1, hi = 59 * 86400;

    if (igraph_parse_duration(arg, &secs) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a duration (a positive number of seconds, or a "
                            "number with an s, m, h or d suffix, e.g. 15d)",
                            cmd->cmd->name, arg);
    }
    if (off == APR_OFFSETOF(mig_srv_cfg, maintenance_interval)) {
        hi = 86400;
    }
    else if (off == APR_OFFSETOF(mig_srv_cfg, publish_wait)) {
        hi = 900;
    }
    else if (off == APR_OFFSETOF(mig_srv_cfg, publish_timeout)) {
        lo = 10;
        hi = 86400;
    }
    else if (off == APR_OFFSETOF(mig_srv_cfg, graph_timeout)) {
        hi = 300;
    }
    else if (off == APR_OFFSETOF(mig_srv_cfg, event_retention)) {
        hi = 3650 * 86400;
    }
    if (secs < lo || secs > hi) {
        return apr_psprintf(cmd->pool, "%s must be between %" APR_INT64_T_FMT "s and %"
                            APR_INT64_T_FMT "s", cmd->cmd->name, lo, hi);
    }
    *(apr_int64_t *)((char *)c + off) = secs;
    return NULL;
}

static const char *set_concurrency(cmd_parms *cmd, void *dc, const char *arg)
{
    apr_int64_t n;
    if (igraph_parse_int64(arg, &n) != APR_SUCCESS || n < 1 || n > 50) {
        return apr_psprintf(cmd->pool, "%s must be a number from 1 to 50", cmd->cmd->name);
    }
    cmd_srv(cmd)->publish_concurrency = (int)n;
    return NULL;
}

static const char *set_max_risk(cmd_parms *cmd, void *dc, const char *arg)
{
    char *end = NULL;
    double v = strtod(arg, &end);
    if (!*arg || !end || *end || !(v >= 0.0 && v <= 1.0)) {
        return apr_psprintf(cmd->pool, "%s must be a number from 0 to 1", cmd->cmd->name);
    }
    cmd_srv(cmd)->max_risk = v;
    return NULL;
}

static const char *set_affiliate_hosts(cmd_parms *cmd, void *dc, const char *args)
{
    apr_array_header_t *hosts = apr_array_make(cmd->pool, 8, sizeof(const char *));
    const char *w;
    while (*(w = ap_getword_conf(cmd->temp_pool, &args))) {
        apr_array_header_t *parts = igraph_split_csv(cmd->pool, w);
        int i;
        for (i = 0; i < parts->nelts; i++) {
            const char *h = APR_ARRAY_IDX(parts, i, const char *), *q;
            for (q = h; *q; q++) {
                if (!apr_isalnum(*q) && *q != '.' && *q != '-') {
                    return apr_psprintf(cmd->pool, "%s: '%s' is not a host name",
                                        cmd->cmd->name, h);
                }
            }
            APR_ARRAY_PUSH(hosts, const char *) = apr_pstrdup(cmd->pool, h);
        }
    }
    if (hosts->nelts == 0) {
        return apr_psprintf(cmd->pool, "%s needs at least one host", cmd->cmd->name);
    }
    cmd_srv(cmd)->affiliate_hosts = apr_array_pstrcat(cmd->pool, hosts, ',');
    return NULL;
}

static const char *set_realm(cmd_parms *cmd, void *dc, const char *arg)
{
    if (!igraph_realm_valid(arg)) {
        return apr_psprintf(cmd->pool,
                            "%s: \"%s\" is not a realm name (1 to 255 printable characters, no "
                            "spaces)",
                            cmd->cmd->name, arg);
    }
    cmd_srv(cmd)->realm = arg;
    return NULL;
}

static const char *set_require_license(cmd_parms *cmd, void *dc, int flag)
{
    cmd_srv(cmd)->require_license = flag;
    return NULL;
}

const command_rec mig_cmds[] = {
    AP_INIT_TAKE1("IGraphAppID", set_app_id, SRV_SLOT(app_id), RSRC_CONF,
                  "Facebook Login app id (numeric)"),
    AP_INIT_TAKE1("IGraphAppSecret", set_app_secret, SRV_SLOT(app_secret), RSRC_CONF,
                  "Facebook Login app secret"),
    AP_INIT_TAKE1("IGraphAppSecretFile", set_app_secret_file, SRV_SLOT(app_secret), RSRC_CONF,
                  "file holding the Facebook Login app secret"),
    AP_INIT_TAKE1("IGraphInstagramAppID", set_app_id, SRV_SLOT(ig_app_id), RSRC_CONF,
                  "Instagram Login app id (numeric)"),
    AP_INIT_TAKE1("IGraphInstagramAppSecret", set_app_secret, SRV_SLOT(ig_app_secret),
                  RSRC_CONF,
                  "Instagram Login app secret"),
    AP_INIT_TAKE1("IGraphInstagramAppSecretFile", set_app_secret_file,
                  SRV_SLOT(ig_app_secret), RSRC_CONF,
                  "file holding the Instagram Login app secret"),
    AP_INIT_TAKE1("IGraphWebhookVerifyToken", set_app_secret, SRV_SLOT(webhook_verify_token),
                  RSRC_CONF, "the verify token entered with the webhook callback URL at Meta"),
    AP_INIT_TAKE1("IGraphWebhookVerifyTokenFile", set_app_secret_file,
                  SRV_SLOT(webhook_verify_token), RSRC_CONF,
                  "file holding the webhook verify token"),
    AP_INIT_TAKE1("IGraphRedirectURL", set_redirect, SRV_SLOT(redirect_url), RSRC_CONF,
                  "absolute OAuth redirect URL registered with Meta (.../oauth/callback)"),
    AP_INIT_TAKE1("IGraphGraphVersion", set_version, SRV_SLOT(graph_version), RSRC_CONF,
                  "Graph API version, e.g. v26.0"),
    AP_INIT_TAKE2("IGraphScopes", set_scopes, NULL, RSRC_CONF,
                  "facebook|instagram followed by a comma-separated permission list"),
    AP_INIT_TAKE2("IGraphEndpoint", set_endpoint, NULL, RSRC_CONF,
                  "endpoint name and base URL (for tests and the local sandbox)"),
    AP_INIT_TAKE1("IGraphTokenKeyFile", set_key_file, NULL, RSRC_CONF,
                  "file with the 32-byte AES-256-GCM key that encrypts tokens at rest"),
    AP_INIT_TAKE1("IGraphAssetsDir", set_assets_dir, NULL, RSRC_CONF,
                  "directory of the UI assets (htdocs/ of the source tree)"),
    AP_INIT_TAKE1("IGraphRefreshBefore", set_duration,
                  (void *)APR_OFFSETOF(mig_srv_cfg, refresh_before), RSRC_CONF,
                  "refresh tokens that expire within this duration (default 15d)"),
    AP_INIT_TAKE1("IGraphMaintenanceInterval", set_duration,
                  (void *)APR_OFFSETOF(mig_srv_cfg, maintenance_interval), RSRC_CONF,
                  "how often the maintenance thread wakes up (default 60s)"),
    AP_INIT_TAKE1("IGraphPublishWait", set_duration,
                  (void *)APR_OFFSETOF(mig_srv_cfg, publish_wait), RSRC_CONF,
                  "how long POST /reels/publish waits for the result (default 180s)"),
    AP_INIT_TAKE1("IGraphPublishTimeout", set_duration,
                  (void *)APR_OFFSETOF(mig_srv_cfg, publish_timeout), RSRC_CONF,
                  "how long a job may wait for Meta to process its media (default 10m)"),
    AP_INIT_TAKE1("IGraphGraphTimeout", set_duration,
                  (void *)APR_OFFSETOF(mig_srv_cfg, graph_timeout), RSRC_CONF,
                  "the longest one call to Meta may take, connecting included (default 20s)"),
    AP_INIT_TAKE1("IGraphEventRetention", set_duration,
                  (void *)APR_OFFSETOF(mig_srv_cfg, event_retention), RSRC_CONF,
                  "webhook events older than this are deleted (default 30d)"),
    AP_INIT_TAKE1("IGraphPublishConcurrency", set_concurrency, NULL, RSRC_CONF,
                  "publish jobs in flight per account (default 2)"),
    AP_INIT_RAW_ARGS("IGraphAffiliateHosts", set_affiliate_hosts, NULL, RSRC_CONF,
                     "hosts whose links in a caption need #ad"),
    AP_INIT_TAKE1("IGraphMaxRisk", set_max_risk, NULL, RSRC_CONF,
                  "refuse posts whose declared risk is at least this (0..1, default 0.2)"),
    AP_INIT_FLAG("IGraphRequireLicense", set_require_license, NULL, RSRC_CONF,
                 "On: posts must declare a license (default Off)"),
    AP_INIT_TAKE1("IGraphRealm", set_realm, NULL, RSRC_CONF,
                  "the realm of this server's accounts (default: its ServerName); servers of "
                  "one realm share their users' accounts"),
    AP_INIT_FLAG("IGraphRequireUser", set_require_user, NULL, RSRC_CONF | ACCESS_CONF,
                 "On: accounts and publishing need an authenticated Apache user"),
    {NULL},
};

/* ---- post_config ------------------------------------------------------------------------- */

/* Environment fallbacks (the variables the first prototype used), applied where no directive
 * set a value. A malformed variable is reported and ignored, never fatal. */
static const struct {
    const char *var;
    apr_size_t slot;
    check_fn *check;
} env_vars[] = {
    {"META_APP_ID", APR_OFFSETOF(mig_srv_cfg, app_id), check_app_id},
    {"META_APP_SECRET", APR_OFFSETOF(mig_srv_cfg, app_secret), check_secret},
    {"META_IG_APP_ID", APR_OFFSETOF(mig_srv_cfg, ig_app_id), check_app_id},
    {"META_IG_APP_SECRET", APR_OFFSETOF(mig_srv_cfg, ig_app_secret), check_secret},
    {"META_REDIRECT_URL", APR_OFFSETOF(mig_srv_cfg, redirect_url), check_redirect},
    {"META_GRAPH_VERSION", APR_OFFSETOF(mig_srv_cfg, graph_version), check_version},
    {NULL, 0, NULL},
};

/* The secret variables of env_vars, taken out of the environment once per process (the first
 * configuration pass in the parent): the values move to no-dump memory of the process pool,
 * which every later pass (graceful restart) reads instead, and the environment forgets them:
 * the bytes of "NAME=value" are overwritten where they are (the environment block that
 * /proc/<pid>/environ shows and core dumps hold) and the name is unset, so neither the
 * children nor anything they start (CGI, piped logs) inherit them. The copies hang off the
 * process pool's userdata because httpd unloads and reloads this module (and its statics)
 * between configuration passes. */
static const char *const env_secret_vars[] = {"META_APP_SECRET", "META_IG_APP_SECRET"};
#define ENV_SECRETS_N (sizeof(env_secret_vars) / sizeof(env_secret_vars[0]))
#define ENV_SECRETS_KEY "igraph-env-secrets"

typedef struct env_secrets {
    const char *value[ENV_SECRETS_N]; /* igraph_secret_alloc memory; NULL: unset or empty */
} env_secrets;

static env_secrets *env_secrets_take(server_rec *s)
{
    apr_pool_t *pp = s->process->pool;
    env_secrets *es = NULL;
    apr_size_t i;
    char *v;

    apr_pool_userdata_get((void **)&es, ENV_SECRETS_KEY, pp);
    if (es) {
        return es;
    }
    es = apr_pcalloc(pp, sizeof(*es));
    apr_pool_userdata_set(es, ENV_SECRETS_KEY, apr_pool_cleanup_null, pp);
    for (i = 0; i < ENV_SECRETS_N; i++) {
        apr_size_t nlen = strlen(env_secret_vars[i]), vlen;
        char *entry;

        if (!(v = getenv(env_secret_vars[i]))) {
            continue;
        }
        vlen = strlen(v);
        if (vlen) {
            es->value[i] = igraph_secret_strdup(pp, v);
        }
        /* getenv() points into the "NAME=value" entry, whose memory nothing else refers to
         * once the name is unset (glibc never frees environment strings) */
        entry = v - nlen - 1;
        unsetenv(env_secret_vars[i]);
        if (!memcmp(entry, env_secret_vars[i], nlen) && entry[nlen] == '=') {
            igraph_secure_zero(entry, nlen + 1 + vlen);
        }
        else {
            igraph_secure_zero(v, vlen);
        }
    }
    return es;
}

/* The value of environment variable var for env_fallback: a secret one from es. */
static const char *env_value(const env_secrets *es, const char *var)
{
    apr_size_t i;

    for (i = 0; i < ENV_SECRETS_N; i++) {
        if (!strcmp(var, env_secret_vars[i])) {
            return es->value[i];
        }
    }
    return getenv(var);
}

/* Environment fallbacks (the variables the first prototype used), applied where no directive
 * set a value. A malformed variable is reported and ignored, never fatal. */
static void env_fallback(server_rec *s, apr_pool_t *p, mig_srv_cfg *c, const env_secrets *es)
{
    const char *v, *err, *out = NULL;
    int i;

    for (i = 0; env_vars[i].var; i++) {
        if (SLOT(c, env_vars[i].slot) || !(v = env_value(es, env_vars[i].var)) || !*v) {
            continue;
        }
        if ((err = env_vars[i].check(p, env_vars[i].var, v))) {
            if (mig_config_logs_now()) {
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "IG0002: ignoring %s: %s",
                             env_vars[i].var, err);
            }
        }
        else if (env_vars[i].check == check_secret) {
            SLOT(c, env_vars[i].slot) = igraph_secret_strdup(p, v);
        }
        else {
            SLOT(c, env_vars[i].slot) = apr_pstrdup(p, v);
        }
    }
    if (!c->fb_scopes && (v = getenv("META_SCOPES")) && *v) {
        if ((err = check_scopes(p, 0, v, &out))) {
            if (mig_config_logs_now()) {
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "IG0002: ignoring META_SCOPES: %s",
                             err);
            }
        }
        else {
            c->fb_scopes = out;
        }
    }
}

static int host_is_meta(const char *url)
{
    static const char *const hosts[] = {"facebook.com", "instagram.com", NULL};
    const char *h = strstr(url, "://");
    const char *end;
    apr_size_t n;
    int i;
    if (!h) {
        return 0;
    }
    h += 3;
    end = h + strcspn(h, ":/");
    n = (apr_size_t)(end - h);
    for (i = 0; hosts[i]; i++) {
        apr_size_t m = strlen(hosts[i]);
        if (n >= m && !strncasecmp(end - m, hosts[i], m) && (n == m || end[-(long)m - 1] == '.')) {
            return 1;
        }
    }
    return 0;
}

static const char *asset_type(const char *name)
{
    static const char *const types[][2] = {
        {".css", "text/css; charset=utf-8"}, {".svg", "image/svg+xml"},
        {".png", "image/png"},               {".ico", "image/x-icon"},
        {NULL, NULL},
    };
    const char *dot = strrchr(name, '.');
    int i;
    for (i = 0; dot && types[i][0]; i++) {
        if (!strcmp(dot, types[i][0])) {
            return types[i][1];
        }
    }
    return NULL;
}

/* Reads the UI files (known types, plain names, <= 1 MiB) into pconf. Root reads them, and the
 * directory may be one the Apache user can write: a symbolic link is followed only out of a
 * directory that root alone can change, and a hard link there is not read
 * (igraph_file_open_trusted); such a file is left out with a warning. */
static apr_hash_t *load_assets(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s,
                               const char *dir)
{
    apr_hash_t *h = apr_hash_make(pconf);
    apr_dir_t *d;
    apr_finfo_t fi;

    if (apr_dir_open(&d, dir, ptemp) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "IG0009: cannot read IGraphAssetsDir %s",
                     dir);
        return h;
    }
    while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, d) == APR_SUCCESS) {
        const char *type = asset_type(fi.name), *path, *err = NULL;
        struct stat st;
        mig_asset *as;
        apr_size_t n = 0;
        ssize_t r;
        char *buf;
        int fd;

        if (!type || fi.name[0] == '.' || (fi.filetype != APR_REG && fi.filetype != APR_LNK)) {
            continue;
        }
        path = apr_pstrcat(ptemp, dir, "/", fi.name, NULL);
        if (igraph_file_open_trusted(path, 0, &fd, &st, ptemp, &err) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         "IG0044: IGraphAssetsDir: not serving %s: %s", fi.name, err);
            continue;
        }
        if (st.st_size > 1024 * 1024) {
            close(fd);
            continue;
        }
        buf = apr_palloc(pconf, (apr_size_t)st.st_size + 1);
        while (n < (apr_size_t)st.st_size) {
            r = read(fd, buf + n, (apr_size_t)st.st_size - n);
            if (r < 0 && errno == EINTR) {
                continue;
            }
            if (r <= 0) {
                break;
            }
            n += (apr_size_t)r;
        }
        close(fd);
        if (n == (apr_size_t)st.st_size) {
            as = apr_palloc(pconf, sizeof(*as));
            as->data = buf;
            as->len = n;
            as->type = type;
            apr_hash_set(h, apr_pstrdup(pconf, fi.name), APR_HASH_KEY_STRING, as);
        }
    }
    apr_dir_close(d);
    return h;
}

/* Keys are cached per path so that virtual hosts sharing a file share one copy. */
static igraph_key_t *load_key(apr_pool_t *pconf, server_rec *s, const char *path,
                              apr_hash_t *cache, const char **perr)
{
    igraph_key_t *k = apr_hash_get(cache, path, APR_HASH_KEY_STRING);
    if (k) {
        return k;
    }
    /* left out of core dumps; zeroed when the configuration goes (graceful restart, stop) */
    k = igraph_secret_alloc(pconf, sizeof(*k));
    if (igraph_key_load(k, path, 1, pconf, perr) != APR_SUCCESS) {
        return NULL;
    }
    apr_hash_set(cache, path, APR_HASH_KEY_STRING, k);
    return k;
}

static int passphrase_walk(apr_pool_t *ptemp, const ap_directive_t *d)
{
    int failed = 0;

    for (; d; d = d->next) {
        const char *args, *path, *err = NULL;
        int fd = -1;

        if (d->first_child) {
            failed |= passphrase_walk(ptemp, d->first_child);
            continue;
        }
        if (strcasecmp(d->directive, "SessionCryptoPassphraseFile") || !d->args) {
            continue;
        }
        args = d->args;
        path = ap_server_root_relative(ptemp, ap_getword_conf(ptemp, &args));
        if (!path || igraph_file_open_trusted(path, 0, &fd, NULL, ptemp, &err) != IGRAPH_EUNSAFE) {
            if (fd >= 0) {
                close(fd);
            }
            continue; /* mod_session_crypto itself reports a file it could not read */
        }
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, NULL,
                     "IG0042: SessionCryptoPassphraseFile (%s:%d): %s; mod_session_crypto read "
                     "it as root, so mod_igraph refuses to start with it",
                     d->filename, d->line_num, err);
        failed = 1;
    }
    return failed;
}

int mig_config_check_passphrase_files(apr_pool_t *ptemp)
{
    return passphrase_walk(ptemp, ap_conftree) ? HTTP_INTERNAL_SERVER_ERROR : OK;
}

int mig_config_logs_now(void)
{
    return ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG ||
           ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_CONFIG_TEST;
}

void mig_config_settle(apr_pool_t *pconf, server_rec *s)
{
    const env_secrets *es = env_secrets_take(s);
    server_rec *vs;
    int i;

    for (vs = s; vs; vs = vs->next) {
        mig_srv_cfg *c = mig_srv(vs);

        env_fallback(vs, pconf, c, es);
        if (!c->graph_version) {
            c->graph_version = MIG_DEFAULT_GRAPH_VERSION;
        }
        if (!c->fb_scopes) {
            c->fb_scopes = MIG_DEFAULT_FB_SCOPES;
        }
        if (!c->ig_scopes) {
            c->ig_scopes = MIG_DEFAULT_IG_SCOPES;
        }
        if (c->refresh_before < 0) {
            c->refresh_before = MIG_DEFAULT_REFRESH_BEFORE;
        }
        if (c->maintenance_interval < 0) {
            c->maintenance_interval = MIG_DEFAULT_INTERVAL;
        }
        if (c->publish_wait < 0) {
            c->publish_wait = MIG_DEFAULT_PUBLISH_WAIT;
        }
        if (c->publish_timeout < 0) {
            c->publish_timeout = MIG_DEFAULT_PUBLISH_TIMEOUT;
        }
        if (c->graph_timeout < 0) {
            c->graph_timeout = MIG_DEFAULT_GRAPH_TIMEOUT;
        }
        if (c->event_retention < 0) {
            c->event_retention = MIG_DEFAULT_EVENT_RETENTION;
        }
        if (c->publish_concurrency < 0) {
            c->publish_concurrency = MIG_DEFAULT_CONCURRENCY;
        }
        if (c->max_risk < 0) {
            c->max_risk = MIG_DEFAULT_MAX_RISK;
        }
        if (c->require_license < 0) {
            c->require_license = 0;
        }
        c->sandbox = 0;
        for (i = 0; i < MIG_EP_COUNT; i++) {
            if (!c->endpoints[i]) {
                c->endpoints[i] = endpoint_defaults[i];
            }
            else if (!host_is_meta(c->endpoints[i])) {
                c->sandbox = 1;
            }
        }
        if (!c->key_file) {
            c->key_file = ap_server_root_relative(pconf, MIG_DEFAULT_KEY_FILE);
        }
    }
}

int mig_config_finish(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    apr_hash_t *keys = apr_hash_make(ptemp);
    server_rec *vs;

    for (vs = s; vs; vs = vs->next) {
        mig_srv_cfg *c = mig_srv(vs);
        const char *err = NULL;

        if (c->assets_dir) {
            c->assets = load_assets(pconf, ptemp, vs, c->assets_dir);
        }
        c->key = load_key(pconf, vs, c->key_file, keys, &err);
        if (!c->key) {
            c->key_error = err ? err : "unknown error";
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, vs,
                         "IG0003: token key unavailable (%s); mod_igraph routes answer 503 "
                         "until IGraphTokenKeyFile is fixed",
                         c->key_error);
        }

        if (!mig_meta_configured(c)) {
            /* once, for the main server: virtual hosts inherit its state */
            if (vs == s) {
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, vs,
                             "IG0001: no Meta app configured (set IGraphAppID, IGraphAppSecret "
                             "and IGraphRedirectURL, or META_APP_ID, META_APP_SECRET and "
                             "META_REDIRECT_URL); mod_igraph routes answer with a clear error "
                             "until then");
            }
        }
        else if ((c->app_id != NULL) != (c->app_secret != NULL)) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, vs,
                         "IG0004: Facebook Login needs both IGraphAppID and IGraphAppSecret");
        }
    }
    return OK;
}

igraph_graph_t *mig_graph(const mig_srv_cfg *c, apr_pool_t *p)
{
    igraph_graph_t *g = apr_pcalloc(p, sizeof(*g));
    g->fb_dialog_base = c->endpoints[MIG_EP_FB_DIALOG];
    g->fb_graph_base = c->endpoints[MIG_EP_FB_GRAPH];
    g->ig_authorize_base = c->endpoints[MIG_EP_IG_AUTHORIZE];
    g->ig_api_base = c->endpoints[MIG_EP_IG_API];
    g->ig_graph_base = c->endpoints[MIG_EP_IG_GRAPH];
    g->version = c->graph_version;
    g->app_id = c->app_id;
    g->app_secret = c->app_secret;
    g->ig_app_id = c->ig_app_id;
    g->ig_app_secret = c->ig_app_secret;
    g->fb_appsecret_proof = 1;
    g->timeout_ms = (long)c->graph_timeout * 1000;
    g->connect_timeout_ms = g->timeout_ms < 5000 ? g->timeout_ms : 5000;
    g->max_body = 2 * 1024 * 1024;
    g->max_pages = 50;
    return g;
}

void mig_job_policy(const mig_srv_cfg *c, igraph_job_policy_t *pol)
{
    igraph_job_policy_default(pol);
    pol->publish_timeout = c->publish_timeout;
}

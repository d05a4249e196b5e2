/* mod_igraph_config.h: the IGraph* directives, server and directory configuration, start-up
 * checks (mod_igraph_config.c). */
#ifndef MOD_IGRAPH_CONFIG_H
#define MOD_IGRAPH_CONFIG_H

#include <httpd.h>
#include <http_config.h>

#include "igraph_crypto.h"
#include "igraph_graph.h"
#include "igraph_job.h"

/* Named outside endpoints (IGraphEndpoint <name> <base URL>). */
typedef enum {
    MIG_EP_FB_DIALOG = 0,
    MIG_EP_FB_GRAPH,
    MIG_EP_IG_AUTHORIZE,
    MIG_EP_IG_API,
    MIG_EP_IG_GRAPH,
    MIG_EP_COUNT
} mig_endpoint_e;

#define MIG_DEFAULT_GRAPH_VERSION "v26.0"
#define MIG_DEFAULT_FB_SCOPES \
    "pages_show_list,pages_read_engagement,instagram_basic,instagram_content_publish"
#define MIG_DEFAULT_IG_SCOPES "instagram_business_basic,instagram_business_content_publish"
#define MIG_DEFAULT_KEY_FILE "igraph-token.key"
#define MIG_STATE_TTL 600      /* OAuth state lifetime, seconds */
#define MIG_PENDING_TTL 900    /* Page selection lifetime, seconds */
#define MIG_MAX_BODY 65536     /* request bodies we read */
#define MIG_DEFAULT_REFRESH_BEFORE (15 * 86400)
#define MIG_DEFAULT_INTERVAL 60
#define MIG_DEFAULT_PUBLISH_WAIT 180
#define MIG_DEFAULT_PUBLISH_TIMEOUT 600
#define MIG_DEFAULT_GRAPH_TIMEOUT 20
#define MIG_DEFAULT_EVENT_RETENTION (30 * 86400)
#define MIG_DEFAULT_CONCURRENCY 2
#define MIG_DEFAULT_MAX_RISK 0.2

/* A place where `SetHandler igraph` mounts the module (mod_igraph_mount.c). */
typedef struct mig_mount {
    const char *path;                      /* "" (whole server) or "/ig", no trailing slash */
    apr_size_t len;
    const char *file;                      /* where SetHandler was written */
    int line;
} mig_mount;

typedef struct mig_srv_cfg {
    const char *app_id, *app_secret;       /* Facebook Login */
    const char *ig_app_id, *ig_app_secret; /* Instagram Login */
    const char *redirect_url;
    const char *graph_version;
    const char *fb_scopes, *ig_scopes;
    const char *endpoints[MIG_EP_COUNT];
    const char *key_file;
    const char *assets_dir;
    int require_user;                      /* -1 unset */
    apr_int64_t refresh_before;            /* seconds, -1 unset (default 15 days) */
    apr_int64_t maintenance_interval;      /* seconds, -1 unset (default 60 s) */
    apr_int64_t publish_wait;              /* seconds, -1 unset (default 180 s) */
    apr_int64_t publish_timeout;           /* seconds, -1 unset (default 600 s) */
    apr_int64_t graph_timeout;             /* seconds per Graph call, -1 unset (20 s) */
    apr_int64_t event_retention;           /* seconds webhook events are kept, -1 unset (30 d) */
    int publish_concurrency;               /* jobs in flight per account, -1 unset (2) */
    const char *affiliate_hosts;           /* comma list or NULL */
    const char *webhook_verify_token;      /* IGraphWebhookVerifyToken */
    double max_risk;                       /* -1 unset (0.2) */
    int require_license;                   /* -1 unset (Off) */
    const char *realm;                     /* IGraphRealm, NULL: the ServerName */
    /* filled in check_config */
    apr_array_header_t *mounts;            /* mig_mount: this server's mount points */
    const char *realm_key;                 /* owner keys' realm: "" the default (main's) */
    /* filled in post_config */
    igraph_key_t *key;                     /* NULL when it could not be loaded */
    const char *key_error;
    int sandbox;                           /* endpoints point away from Meta's hosts */
    const char *storage_problem;           /* why mod_dbd cannot serve us, or NULL */
    apr_hash_t *assets;                    /* name -> mig_asset, read at start-up */
} mig_srv_cfg;

typedef struct mig_dir_cfg {
    int require_user;                      /* -1 unset */
} mig_dir_cfg;

/* A UI file from IGraphAssetsDir, read once by the parent at start-up (the children may not be
 * allowed to read the source tree, and a hash lookup beats the file system). */
typedef struct mig_asset {
    const char *data;
    apr_size_t len;
    const char *type;
} mig_asset;

extern const command_rec mig_cmds[];
void *mig_create_srv_cfg(apr_pool_t *p, server_rec *s);
void *mig_merge_srv_cfg(apr_pool_t *p, void *basev, void *addv);
void *mig_create_dir_cfg(apr_pool_t *p, char *dir);
void *mig_merge_dir_cfg(apr_pool_t *p, void *basev, void *addv);
const char *mig_endpoint_name(mig_endpoint_e ep);
const char *mig_endpoint_default(mig_endpoint_e ep);
/* 1 when start-up messages should be logged now: in the real pass of a start or restart, and
 * in `apachectl -t` (not in the first, checking pass of a start, which goes to the console). */
int mig_config_logs_now(void);
/* check_config: environment fallbacks and defaults for every server. */
void mig_config_settle(apr_pool_t *pconf, server_rec *s);
/* check_config: the SessionCryptoPassphraseFile lines. mod_session_crypto reads those files as
 * root while the configuration is read, following any link; one reached through a link that a
 * user other than root can change (igraph_file_open_trusted) fails the start (IG0042). */
int mig_config_check_passphrase_files(apr_pool_t *ptemp);
/* post_config: the token keys and UI assets, and the warnings about what is missing. Returns OK
 * or an error status. */
int mig_config_finish(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);
mig_srv_cfg *mig_srv(const server_rec *s);
int mig_fb_configured(const mig_srv_cfg *c);
int mig_ig_configured(const mig_srv_cfg *c);
/* 1 when at least one of the two logins is configured. */
int mig_meta_configured(const mig_srv_cfg *c);
int mig_require_user(request_rec *r);
/* Graph client settings for this server, allocated from p. */
igraph_graph_t *mig_graph(const mig_srv_cfg *c, apr_pool_t *p);
/* The publish job policy of this server (defaults, IGraphPublishTimeout). */
void mig_job_policy(const mig_srv_cfg *c, igraph_job_policy_t *pol);


#endif

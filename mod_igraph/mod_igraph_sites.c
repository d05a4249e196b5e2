/* mod_igraph_sites.c: realms and sites (see the header). */
#include <string.h>

#include <apr_strings.h>

#include "mod_igraph_sites.h"
#include "mod_igraph_storage.h"

static apr_array_header_t *sites;

static int same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

/* The first setting of c and d that background work could not share, or NULL. */
static const char *differing_setting(apr_pool_t *p, const mig_srv_cfg *c, const mig_srv_cfg *d)
{
    int i;

    if (!same(c->app_id, d->app_id) || !same(c->app_secret, d->app_secret)) {
        return "IGraphAppID/IGraphAppSecret";
    }
    if (!same(c->ig_app_id, d->ig_app_id) || !same(c->ig_app_secret, d->ig_app_secret)) {
        return "IGraphInstagramAppID/IGraphInstagramAppSecret";
    }
    if (!same(c->graph_version, d->graph_version)) {
        return "IGraphGraphVersion";
    }
    if (!same(c->key_file, d->key_file)) {
        return "IGraphTokenKeyFile";
    }
    for (i = 0; i < MIG_EP_COUNT; i++) {
        if (!same(c->endpoints[i], d->endpoints[i])) {
            return apr_pstrcat(p, "IGraphEndpoint ", mig_endpoint_name((mig_endpoint_e)i), NULL);
        }
    }
    return NULL;
}

static const char *where(apr_pool_t *p, const server_rec *s)
{
    if (!s->is_virtual) {
        return "the main server";
    }
    return apr_psprintf(p, "the virtual host at %s:%d", s->defn_name ? s->defn_name : "?",
                        s->defn_line_number);
}

int mig_sites_build(apr_pool_t *pconf, server_rec *s)
{
    const char *main_realm;
    apr_array_header_t *dbs = apr_array_make(pconf, 2, sizeof(const char *));
    server_rec *vs;
    int i;

    sites = apr_array_make(pconf, 4, sizeof(mig_site));
    main_realm = mig_srv(s)->realm ? mig_srv(s)->realm : s->server_hostname;
    for (vs = s; vs; vs = vs->next) {
        mig_srv_cfg *c = mig_srv(vs);
        const char *realm = c->realm ? c->realm : vs->server_hostname;
        const char *db = mig_storage_identity(vs, pconf);
        int store, new_store;
        mig_site *site = NULL;

        /* the main server's realm is the default one: rows written before realms are its own */
        c->realm_key = (!realm || same(realm, main_realm)) ? "" : realm;
        if (!db) {
            continue;
        }
        for (store = 0; store < dbs->nelts; store++) {
            if (!strcmp(APR_ARRAY_IDX(dbs, store, const char *), db)) {
                break;
            }
        }
        new_store = (store == dbs->nelts);
        if (new_store) {
            APR_ARRAY_PUSH(dbs, const char *) = db;
        }
        for (i = 0; i < sites->nelts; i++) {
            mig_site *t = &APR_ARRAY_IDX(sites, i, mig_site);
            if (t->store == store && !strcmp(t->realm, c->realm_key)) {
                site = t;
                break;
            }
        }
        if (!site) {
            site = apr_array_push(sites);
            site->s = vs;
            site->realm = c->realm_key;
            site->store = store;
            site->store_first = new_store; /* a new database has no site yet */
            continue;
        }
        /* a server without a Meta app never does background work: nothing to agree on */
        if (mig_meta_configured(c) && !mig_meta_configured(mig_srv(site->s))) {
            site->s = vs;
        }
        else if (mig_meta_configured(c)) {
            const char *what = differing_setting(pconf, mig_srv(site->s), c);
            if (what) {
                ap_log_error(APLOG_MARK, APLOG_CRIT, 0, vs,
                             "IG0058: %s and %s share the realm \"%s\" and one database but "
                             "differ in %s: the accounts of a realm are refreshed and published "
                             "with one set of Meta settings. Give one of them a realm of its own "
                             "(a ServerName of its own, or IGraphRealm), or the same settings",
                             where(pconf, site->s), where(pconf, vs),
                             *c->realm_key ? c->realm_key : (main_realm ? main_realm : ""), what);
                return HTTP_INTERNAL_SERVER_ERROR;
            }
        }
    }
    return OK;
}

const apr_array_header_t *mig_sites(void)
{
    static const apr_array_header_t none = {NULL, sizeof(mig_site), 0, 0, NULL};
    return sites ? sites : &none;
}

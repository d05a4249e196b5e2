/* mod_igraph_mount.c: the mount points, read from the parsed configuration.
 *
 * Apache gives a module a per-directory configuration for a section only when the section holds
 * one of the module's own directives, so a <Location /ig> that only says `SetHandler igraph`
 * leaves no trace there. The configuration tree does: at check_config every `SetHandler igraph`
 * is found, and the <Location> around it (or the server itself) becomes a mount point of the
 * servers it applies to: a section at server level applies to the main server and to every
 * virtual host (Apache merges it into each), a section inside <VirtualHost> to that host only.
 * <IfModule>, <IfDefine> and Include are already resolved in the tree.
 */
#include <string.h>

#include "mod_igraph_mount.h"

#include <apr_strings.h>
#include <apr_fnmatch.h>
#include <apr_hash.h>
#include <http_log.h>
#include <util_cfgtree.h>

typedef struct mount_walk {
    apr_pool_t *p;
    server_rec *main;
    int failed;
} mount_walk;

/* "<Location" args as written: '"/ig">' -> /ig (the first word, unquoted, without '>'). */
static const char *section_arg(apr_pool_t *p, const ap_directive_t *d)
{
    const char *args = d->args ? d->args : "";
    const char *end = strrchr(args, '>');
    const char *inner = end ? apr_pstrndup(p, args, (apr_size_t)(end - args)) : args;
    return ap_getword_conf(p, &inner);
}

static server_rec *vhost_of(const mount_walk *w, const ap_directive_t *d)
{
    server_rec *s;
    for (s = w->main->next; s; s = s->next) {
        if ((int)s->defn_line_number == d->line_num && s->defn_name && d->filename &&
            !strcmp(s->defn_name, d->filename)) {
            return s;
        }
    }
    return NULL;
}

static void add_mount(mount_walk *w, server_rec *s, const char *path, const ap_directive_t *d)
{
    mig_srv_cfg *c = mig_srv(s);
    mig_mount *m;

    if (!c->mounts) {
        c->mounts = apr_array_make(w->p, 2, sizeof(mig_mount));
    }
    m = apr_array_push(c->mounts);
    m->path = path;
    m->len = strlen(path);
    m->file = d->filename;
    m->line = d->line_num;
}

static void refuse(mount_walk *w, const ap_directive_t *handler, const ap_directive_t *section,
                   const char *why)
{
    ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, NULL,
                 "IG0015: SetHandler igraph in %s %s> (%s:%d) %s: mod_igraph is mounted on a "
                 "fixed URL path; write <Location /path> SetHandler igraph </Location> "
                 "instead (a trailing slash is fine), e.g. <Location /ig>",
                 section->directive,
                 section->args ? apr_pstrndup(w->p, section->args, strcspn(section->args, ">"))
                               : "",
                 handler->filename, handler->line_num, why);
    w->failed = 1;
}

static void record(mount_walk *w, server_rec *vhost, const ap_directive_t *section,
                   const ap_directive_t *handler)
{
    const char *path = "";
    server_rec *s;

    if (section) {
        const char *arg = section_arg(w->p, section);
        char *norm;
        apr_size_t n;

        if (strcasecmp(section->directive, "<Location") != 0) {
            refuse(w, handler, section, "is not a <Location>");
            return;
        }
        if (!strcmp(arg, "~") || arg[0] != '/') {
            refuse(w, handler, section, "is a regular expression");
            return;
        }
        if (apr_fnmatch_test(arg)) {
            refuse(w, handler, section, "has wildcards");
            return;
        }
        norm = apr_pstrdup(w->p, arg);
        n = strlen(norm);
        while (n > 0 && norm[n - 1] == '/') {
            norm[--n] = '\0';
        }
        path = norm;
    }
    if (vhost) {
        add_mount(w, vhost, path, handler);
        return;
    }
    for (s = w->main; s; s = s->next) {
        add_mount(w, s, path, handler);
    }
}

static int handler_is_ours(apr_pool_t *p, const ap_directive_t *d)
{
    const char *args = d->args ? d->args : "";
    return !strcasecmp(d->directive, "SetHandler") &&
           !strcasecmp(ap_getword_conf(p, &args), "igraph");
}

/* section: the innermost container around d (NULL at server or virtual host level). */
static void walk(mount_walk *w, const ap_directive_t *d, server_rec *vhost,
                 const ap_directive_t *section)
{
    for (; d; d = d->next) {
        if (!strcasecmp(d->directive, "<VirtualHost")) {
            server_rec *vs = vhost_of(w, d);
            if (vs) {
                walk(w, d->first_child, vs, NULL);
            }
        }
        else if (d->first_child) {
            walk(w, d->first_child, vhost, d);
        }
        else if (handler_is_ours(w->p, d)) {
            record(w, vhost, section, d);
        }
    }
}

int mig_mount_find(apr_pool_t *pconf, server_rec *s)
{
    mount_walk w;
    server_rec *vs;

    for (vs = s; vs; vs = vs->next) {
        mig_srv(vs)->mounts = NULL;
    }
    w.p = pconf;
    w.main = s;
    w.failed = 0;
    walk(&w, ap_conftree, NULL, NULL);
    return w.failed ? HTTP_INTERNAL_SERVER_ERROR : OK;
}

const char *mig_mount_of(request_rec *r)
{
    const apr_array_header_t *mounts = mig_srv(r->server)->mounts;
    const mig_mount *best = NULL;
    int i;

    /* the outermost mount wins: a second SetHandler igraph in a section below it (say
     * <Location /ig/meta>) does not move the routes */
    for (i = 0; mounts && i < mounts->nelts; i++) {
        const mig_mount *m = &APR_ARRAY_IDX(mounts, i, mig_mount);
        if (!strncmp(r->uri, m->path, m->len) &&
            (r->uri[m->len] == '\0' || r->uri[m->len] == '/') && (!best || m->len < best->len)) {
            best = m;
        }
    }
    return best ? best->path : NULL;
}

/* The path of an absolute URL, without query: "https://h:1/ig/x?y" -> "/ig/x". */
static const char *url_path(apr_pool_t *p, const char *url)
{
    const char *h = strstr(url, "://");
    const char *path = h ? strchr(h + 3, '/') : NULL;
    return path ? apr_pstrndup(p, path, strcspn(path, "?#")) : "/";
}

void mig_mount_check_redirects(apr_pool_t *ptemp, server_rec *s)
{
    apr_hash_t *said = apr_hash_make(ptemp);
    server_rec *vs;

    for (vs = s; vs; vs = vs->next) {
        const mig_srv_cfg *c = mig_srv(vs);
        const char *path, *list = NULL, *key;
        int i, ok = 0;

        if (!c->redirect_url || !c->mounts || c->mounts->nelts == 0) {
            continue;
        }
        path = url_path(ptemp, c->redirect_url);
        for (i = 0; i < c->mounts->nelts; i++) {
            const mig_mount *m = &APR_ARRAY_IDX(c->mounts, i, mig_mount);
            const char *want = apr_pstrcat(ptemp, m->path, "/oauth/callback", NULL);
            const char *where =
                apr_psprintf(ptemp, "%s (%s:%d)", *m->path ? m->path : "/", m->file, m->line);
            ok |= !strcmp(path, want);
            list = list ? apr_pstrcat(ptemp, list, ", ", where, NULL) : where;
        }
        /* virtual hosts that inherit both from the main server are said once */
        key = apr_pstrcat(ptemp, c->redirect_url, " ", list, NULL);
        if (ok || apr_hash_get(said, key, APR_HASH_KEY_STRING)) {
            continue;
        }
        apr_hash_set(said, key, APR_HASH_KEY_STRING, "");
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, vs,
                     "IG0016: IGraphRedirectURL %s does not lead back to mod_igraph: it is "
                     "mounted at %s, so the redirect URL's path must be <mount>/oauth/callback "
                     "(e.g. %s/oauth/callback); Meta sends people back to the redirect URL, "
                     "where they would meet a 404",
                     c->redirect_url, list,
                     *APR_ARRAY_IDX(c->mounts, 0, mig_mount).path
                         ? APR_ARRAY_IDX(c->mounts, 0, mig_mount).path
                         : "");
    }
}

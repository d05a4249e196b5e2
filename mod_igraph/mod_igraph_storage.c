/* mod_igraph_storage.c: the storage gateway, the only code that talks to mod_dbd (see the
 * header). */
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include <errno.h>
#include <string.h>

#include <httpd.h>
#include <http_log.h>
#include <apr_strings.h>
#include <apr_optional.h>
#include <apr_file_io.h>
#include <http_request.h>
#include <unixd.h>
#include <util_mutex.h>
#include <apr_global_mutex.h>
#include <apr_thread_mutex.h>
#include <apr_thread_cond.h>

#include "mod_igraph_storage.h"
#include "mod_igraph_config.h"
#include "igraph_file.h"

#define WRITE_MUTEX "igraph-write"

static APR_OPTIONAL_FN_TYPE(ap_dbd_acquire) *dbd_acquire;
static APR_OPTIONAL_FN_TYPE(ap_dbd_open) *dbd_open;
static APR_OPTIONAL_FN_TYPE(ap_dbd_close) *dbd_close;

/* SQLite's writers queue here, across all children (see igraph_write_gate_t). */
static apr_global_mutex_t *write_mutex;
static igraph_write_gate_t write_gate;

/* Group commit: job inserts of this child waiting for the next transaction. */
typedef struct pending_insert {
    igraph_job_insert_t item;
    int done;
    struct pending_insert *next;
} pending_insert;

static struct {
    apr_thread_mutex_t *mx;
    apr_thread_cond_t *cv;
    pending_insert *head, *tail;
    int committing;
} group;

/* An own connection: the store's view first, so the store's pointer leads back to it. */
typedef struct own_conn {
    igraph_db_t db;
    ap_dbd_t *dbd;
} own_conn;

void mig_storage_optional_fns(void)
{
    dbd_acquire = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_acquire);
    dbd_open = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open);
    dbd_close = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_close);
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

const char *mig_storage_identity(server_rec *s, apr_pool_t *p)
{
    const dbd_cfg_t *cfg = dbd_config(s);

    if (!cfg || !cfg->name || !*cfg->name || cfg->name[0] == '[') {
        return NULL;
    }
    return apr_pstrcat(p, cfg->name, "\n", cfg->params ? cfg->params : "", NULL);
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

/* Hands one existing file to the run-time user, private to that user and its group, without
 * ever following a link: the directory belongs to that user, who could plant
 * "igraph.db-shm -> /etc/shadow" (or a hard link) and have root chown the target at the next
 * graceful restart. So: lstat, open with O_NOFOLLOW (and O_NONBLOCK, no FIFO can hold us), check
 * that the descriptor is still the same regular file with one link, then fchown it and fchmod
 * the "other" bits away (a database of an earlier version was 0644). Anything else is left
 * alone and logged. The entry name is looked up in dfd, the directory as sqlite_ownership
 * opened it; f is its full path, for the messages. */
static void hand_over_file(server_rec *s, int dfd, const char *name, const char *f)
{
    struct stat ls, fs;
    int fd;

    if (fstatat(dfd, name, &ls, AT_SYMLINK_NOFOLLOW) != 0) {
        return; /* not there (yet): -wal/-shm are created by the children, with the db's mode */
    }
    if (ls.st_uid == ap_unixd_config.user_id && !(ls.st_mode & S_IRWXO)) {
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
    fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
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
    else if (fs.st_uid != ap_unixd_config.user_id &&
             fchown(fd, ap_unixd_config.user_id, ap_unixd_config.group_id) != 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, errno, s,
                     "IG0006: cannot hand %s to the Apache user", f);
    }
    else if ((fs.st_mode & S_IRWXO) && fchmod(fd, fs.st_mode & 0770) != 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, errno, s,
                     "IG0045: cannot make %s unreadable by other users (chmod o= it)", f);
    }
    close(fd);
}

/* SQLite would create the database as the first child that opens it, mode 0644 (less the
 * umask): readable by every local user. Root creates it empty first (an empty file is an empty
 * database), 0640 and the Apache user's, without following a link planted in that user's
 * directory; SQLite gives -wal and -shm the database file's mode. */
static void create_database(server_rec *s, int dfd, const char *name, const char *file)
{
    struct stat st;
    int fd;

    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT) {
        return; /* there: hand_over_file checks it */
    }
    fd = openat(dfd, name,
                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0640);
    if (fd < 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, errno, s,
                     "IG0045: cannot create the SQLite database %s for the Apache user", file);
        return;
    }
    if (fchown(fd, ap_unixd_config.user_id, ap_unixd_config.group_id) != 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, errno, s,
                     "IG0006: cannot hand %s to the Apache user", file);
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
    const char *err = NULL;
    struct stat st;
    int i, dfd;

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
    /* The directory itself is reached as root reaches its key and secrets: no symbolic link
     * that the Apache user could have planted on the way (say, a directory of its own above
     * the database replaced by a link to /etc) is followed. */
    if (igraph_file_open_trusted(dir, IGRAPH_FILE_DIRECTORY, &dfd, NULL, ptemp, &err) !=
        APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "IG0046: the SQLite directory: %s; the database files are not created or "
                     "handed to the Apache user",
                     err);
        return;
    }
    create_database(s, dfd, slash + 1, file);
    for (i = 0; suffixes[i]; i++) {
        hand_over_file(s, dfd, apr_pstrcat(ptemp, slash + 1, suffixes[i], NULL),
                       apr_pstrcat(ptemp, file, suffixes[i], NULL));
    }
    close(dfd);
}

void mig_storage_check(server_rec *s, apr_pool_t *ptemp)
{
    server_rec *vs;
    for (vs = s; vs; vs = vs->next) {
        check_storage(vs);
        sqlite_ownership(vs, ptemp);
    }
}

int mig_storage_configured(server_rec *s)
{
    return dbd_open && dbd_close && dbd_acquire && !mig_srv(s)->storage_problem;
}

static apr_status_t gate_enter(void *baton)
{
    return apr_global_mutex_lock(write_mutex);
}

static void gate_leave(void *baton)
{
    apr_global_mutex_unlock(write_mutex);
}

int mig_storage_pre_config(apr_pool_t *pconf)
{
    return ap_mutex_register(pconf, WRITE_MUTEX, NULL, APR_LOCK_DEFAULT, 0);
}

int mig_storage_post_config(apr_pool_t *pconf, server_rec *s)
{
    apr_status_t rv = ap_global_mutex_create(&write_mutex, NULL, WRITE_MUTEX, NULL, s, pconf, 0);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "IG0018: cannot create the write mutex");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

void mig_storage_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    memset(&group, 0, sizeof(group));
    if (apr_thread_mutex_create(&group.mx, APR_THREAD_MUTEX_DEFAULT, pchild) != APR_SUCCESS ||
        apr_thread_cond_create(&group.cv, pchild) != APR_SUCCESS) {
        group.mx = NULL; /* no group commit: every insert commits on its own */
    }
    if (write_mutex) {
        rv = apr_global_mutex_child_init(&write_mutex, apr_global_mutex_lockfile(write_mutex),
                                         pchild);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, "IG0019: write mutex child init");
            write_mutex = NULL;
        }
    }
    write_gate.enter = gate_enter;
    write_gate.leave = gate_leave;
}

static void view_of(igraph_db_t *db, const ap_dbd_t *d)
{
    memset(db, 0, sizeof(*db));
    db->handle = d->handle;
    db->driver = d->driver;
    db->prepared = d->prepared;
    db->pool = d->pool;
    /* a SQLite file is shared by processes that must queue for it; PostgreSQL queues itself */
    if (write_mutex && !strcmp(apr_dbd_name(d->driver), "sqlite3")) {
        db->gate = &write_gate;
    }
}

igraph_db_t *mig_storage_request(request_rec *r)
{
    igraph_db_t *db = ap_get_module_config(r->request_config, &igraph_module);
    ap_dbd_t *d;

    if (db) {
        return db;
    }
    if (!mig_storage_configured(r->server)) {
        /* said once at start-up (IG0008) */
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "IG0010: storage unavailable: %s",
                      mig_srv(r->server)->storage_problem ? mig_srv(r->server)->storage_problem
                                                          : "mod_dbd is not loaded");
        return NULL;
    }
    if (!(d = dbd_acquire(r))) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "IG0011: storage unavailable: no database connection (check DBDriver and "
                      "DBDParams)");
        return NULL;
    }
    db = apr_pcalloc(r->pool, sizeof(*db));
    view_of(db, d);
    if (igraph_store_ready(db, r->pool) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "IG0012: storage unavailable: schema or statements could not be prepared");
        return NULL;
    }
    ap_set_module_config(r->request_config, &igraph_module, db);
    return db;
}

igraph_db_t *mig_storage_open(server_rec *s, apr_pool_t *p)
{
    own_conn *c;
    ap_dbd_t *d;

    if (!mig_storage_configured(s) || !(d = dbd_open(p, s))) {
        return NULL;
    }
    c = apr_pcalloc(p, sizeof(*c));
    c->dbd = d;
    view_of(&c->db, d);
    if (igraph_store_ready(&c->db, p) != APR_SUCCESS) {
        dbd_close(s, d);
        return NULL;
    }
    return &c->db;
}

void mig_storage_close(server_rec *s, igraph_db_t *db)
{
    if (db) {
        dbd_close(s, ((own_conn *)db)->dbd);
    }
}

apr_status_t mig_storage_insert_job(igraph_db_t *db, apr_pool_t *p, const igraph_job_t *j,
                                    const char *idempotency_key, const char *media_key)
{
    pending_insert me, *batch, *it;
    igraph_job_insert_t **items;
    int n, gated;

    if (!group.mx) {
        return igraph_store_job_insert(db, p, j, idempotency_key, media_key);
    }
    memset(&me, 0, sizeof(me));
    me.item.job = j;
    me.item.idempotency_key = idempotency_key;
    me.item.media_key = media_key;
    apr_thread_mutex_lock(group.mx);
    if (group.tail) {
        group.tail->next = &me;
    }
    else {
        group.head = &me;
    }
    group.tail = &me;
    while (!me.done) {
        if (group.committing) {
            apr_thread_cond_wait(group.cv, group.mx);
            continue;
        }
        /* This thread commits everything queued, its own insert among it, on its own connection;
         * the others wait (their items live on their stacks until done). The group is taken only
         * once the write gate is held, so what arrives while another process commits joins it. */
        group.committing = 1;
        apr_thread_mutex_unlock(group.mx);
        gated = igraph_store_gate_enter(db) == APR_SUCCESS;
        apr_thread_mutex_lock(group.mx);
        batch = group.head;
        group.head = group.tail = NULL;
        apr_thread_mutex_unlock(group.mx);
        for (n = 0, it = batch; it; it = it->next) {
            n++;
        }
        items = apr_palloc(p, n * sizeof(*items));
        for (n = 0, it = batch; it; it = it->next) {
            items[n++] = &it->item;
        }
        igraph_store_jobs_insert(db, p, items, n);
        if (gated) {
            igraph_store_gate_leave(db);
        }
        apr_thread_mutex_lock(group.mx);
        for (it = batch; it; it = it->next) {
            it->done = 1;
        }
        group.committing = 0;
        apr_thread_cond_broadcast(group.cv);
    }
    apr_thread_mutex_unlock(group.mx);
    return me.item.rv;
}

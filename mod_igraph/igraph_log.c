/* igraph_log.c: the logging sink of the Apache-independent core. */
#include <stdarg.h>
#include <stdio.h>

#include "igraph_log.h"

/* Set once in post_config / at test start, before any worker thread runs, so no locking. */
static igraph_log_sink_fn *igraph_log_sink;
static void *igraph_log_baton;
static int igraph_log_max_level = -1;

void igraph_log_set_sink(igraph_log_sink_fn *fn, void *baton, int max_level)
{
    igraph_log_sink = fn;
    igraph_log_baton = baton;
    igraph_log_max_level = max_level;
}

int igraph_log_is_level(int level)
{
    return igraph_log_sink != NULL && level <= igraph_log_max_level;
}

void igraph_log_printf(const char *file, int line, int level, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;

    if (!igraph_log_is_level(level)) {
        return;
    }
    va_start(ap, fmt);
    /* vsnprintf truncates and always terminates; a cut-off message is better than none. */
    if (vsnprintf(buf, sizeof(buf), fmt, ap) < 0) {
        buf[0] = '\0';
    }
    va_end(ap);
    igraph_log_sink(igraph_log_baton, level, file, line, buf);
}

/* igraph_log.h: logging sink for the Apache-independent core.
 *
 * The core never calls ap_log_*; it calls igraph_log(), and the Apache glue installs a sink that
 * forwards to ap_log_error() with APLOG_MODULE_INDEX so "LogLevel igraph:debug" works. Unit tests
 * install their own sink (or none: messages are then dropped).
 * Levels use the APLOG_* numbers (0 emerg ... 7 debug, 8.. trace1..).
 * Never pass a token or a secret to these functions.
 */
#ifndef IGRAPH_LOG_H
#define IGRAPH_LOG_H

#include <stdarg.h>

#define IGRAPH_LOG_ERR 3
#define IGRAPH_LOG_WARNING 4
#define IGRAPH_LOG_NOTICE 5
#define IGRAPH_LOG_INFO 6
#define IGRAPH_LOG_DEBUG 7
#define IGRAPH_LOG_TRACE1 8

typedef void igraph_log_sink_fn(void *baton, int level, const char *file, int line,
                                const char *msg);

/* Installs the sink (NULL to drop messages) and the highest level it wants to see. */
void igraph_log_set_sink(igraph_log_sink_fn *fn, void *baton, int max_level);
int igraph_log_is_level(int level);
void igraph_log_printf(const char *file, int line, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define igraph_log(level, ...) igraph_log_printf(__FILE__, __LINE__, (level), __VA_ARGS__)

#endif

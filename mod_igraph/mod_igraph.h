/* mod_igraph.h: what every file of the Apache glue shares: the module and its log index.
 * Everything Apache-specific lives in mod_igraph*.c (each with its own header); the igraph_*.c
 * core knows nothing of httpd. */
#ifndef MOD_IGRAPH_H
#define MOD_IGRAPH_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <apr_dbd.h>
#include <apr_thread_proc.h>
#include <mod_dbd.h>

#include "igraph_crypto.h"
#include "igraph_graph.h"
#include "igraph_store.h"
#include "igraph_refresh.h"
#include "igraph_job.h"

extern module AP_MODULE_DECLARE_DATA igraph_module;

/* mod_igraph.c declares the module (which also sets up the log index) */
#ifndef MIG_DECLARES_MODULE
APLOG_USE_MODULE(igraph);
#endif

#include "mod_igraph_config.h"

#endif

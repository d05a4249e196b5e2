/* mod_igraph_accounts.h: the accounts page and the accounts API (mod_igraph_accounts.c). */
#ifndef MOD_IGRAPH_ACCOUNTS_H
#define MOD_IGRAPH_ACCOUNTS_H

#include "mod_igraph_web.h"

int mig_accounts_page(mig_req *q);
int mig_accounts_form(mig_req *q, apr_int64_t id, const char *verb);
int mig_api_accounts(mig_req *q);
int mig_api_account(mig_req *q, apr_int64_t id, const char *verb);

#endif

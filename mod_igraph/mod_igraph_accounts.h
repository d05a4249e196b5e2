/* mod_igraph_accounts.h: the accounts page and the accounts API (mod_igraph_accounts.c). */
#ifndef MOD_IGRAPH_ACCOUNTS_H
#define MOD_IGRAPH_ACCOUNTS_H

#include "mod_igraph_web.h"

/* GET / and /accounts: the page. */
int mig_accounts_page(mig_req *q);
/* POST /accounts/{id}/<route arg: disable|enable|remove>: the page's forms. */
int mig_accounts_form(mig_req *q);
/* GET /assets/{name}. */
int mig_serve_asset(mig_req *q);
/* GET /api/accounts, GET /api/accounts/{id}. */
int mig_api_accounts(mig_req *q);
int mig_api_account(mig_req *q);
/* DELETE /api/accounts/{id}, POST /api/accounts/{id}/disable|enable (route arg: the action). */
int mig_api_account_change(mig_req *q);
/* POST /api/accounts/{id}/refresh. */
int mig_api_account_refresh(mig_req *q);

#endif

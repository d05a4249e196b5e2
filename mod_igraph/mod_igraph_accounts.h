/* mod_igraph_accounts.h: the accounts page and the accounts API (mod_igraph_accounts.c). */
#ifndef MOD_IGRAPH_ACCOUNTS_H
#define MOD_IGRAPH_ACCOUNTS_H

#include "mod_igraph_web.h"

/* Route handlers:
 *   mig_accounts_page        GET / and /accounts: the page
 *   mig_accounts_form        POST /accounts/{id}/<route arg: disable|enable|remove>
 *   mig_serve_asset          GET /assets/{name}
 *   mig_api_accounts         GET /api/accounts
 *   mig_api_account          GET /api/accounts/{id}
 *   mig_api_account_change   DELETE /api/accounts/{id}, POST .../disable|enable (route arg)
 *   mig_api_account_refresh  POST /api/accounts/{id}/refresh */
mig_route_fn mig_accounts_page, mig_accounts_form, mig_serve_asset, mig_api_accounts,
    mig_api_account, mig_api_account_change, mig_api_account_refresh;

#endif

"""fakemeta - a fake Meta Graph API server for mod_igraph's tests and `make run` sandbox.

Run:  cd tests && /usr/bin/python3 -m fakemeta --port 0 --portfile /tmp/fm.port [--sandbox]
Prints "fakemeta listening on http://127.0.0.1:PORT"; SIGTERM/SIGINT stop it cleanly.
Standard library only. Spec: /work/shared/meta-graph-api.md section 11.

Routing: one listener; the real host is the first path segment, so the module is configured
with base URLs such as http://127.0.0.1:PORT/graph.facebook.com. Hosts: www.facebook.com,
graph.facebook.com, rupload.facebook.com, www.instagram.com, api.instagram.com,
graph.instagram.com, rupload.instagram.com. Any /vNN.N/ prefix (or none) is accepted.
Tokens: `Authorization: Bearer <t>` (rupload: `OAuth <t>`) or the access_token parameter.
Bodies: urlencoded, multipart or JSON. GET / shows an HTML overview of the fake's state;
/static/pp/<username>.svg serves generated avatars (profile_picture_url points there).

Tokens: EAA... (fb_short from the code exchange, fb_long from fb_exchange_token, page from
/me/accounts, never expiring), IGAA... (ig_short 3600 s, ig_long 5183944 s), app token
"app_id|app_secret". Unknown/expired/revoked -> 400 error 190 with subcode 467/463/<revoke
subcode> and WWW-Authenticate. graph.instagram.com errors use type IGApiException and carry
is_transient. Usage headers: X-App-Usage on user/app-token calls, X-Business-Use-Case-Usage
(keyed by IG id, type instagram; Pages without IG: Page id, type pages) on Page/IG-token calls;
at 100 % of `hourly_budget` calls per rolling hour -> error 4 (app), 80002 (IG), 80001 (Page).

Control API (JSON in/out; invalid keys -> 400 {"error": ...}); GET /_control/help returns this:

  POST   /_control/reset            {} -> defaults (sandbox defaults if --sandbox); clears
                                    clock offset, log, faults, tokens, codes, containers.
  GET|POST /_control/config         partial update of: app_id, app_secret, app_name, ig_app_id,
                                    ig_app_secret, redirect_uris [..], redirect_prefixes [..]
                                    (prefix must be followed by ':' '/' '?' or the end),
                                    require_appsecret_proof (graph.facebook.com),
                                    require_appsecret_proof_ig (graph.instagram.com, key = IG
                                    secret), consent "page"|"allow"|"deny", hourly_budget (1000),
                                    quota_total (100), container_limit (400), container
                                    {finish_after_polls (null = images/carousels 1, videos 3;
                                    the Nth status poll returns the outcome, 0 = at creation),
                                    finish_after_seconds (0; sandbox 5), outcome "FINISHED"|
                                    "ERROR", error_subcode (2207026)} (merged), 
                                    drop_publish_response (publish succeeds, connection closed
                                    without an answer), fb_code_ttl (600), ig_code_ttl (3600),
                                    javascript_urls (false; true: profile_picture_url and
                                    permalink values become javascript: URLs).
                                    Returns the whole config.
  GET|POST /_control/fb_user        {id, name, pages: [{id?, name, ig_username: str|null,
                                    ig_id?, ig_name?, tasks?, category?, followers_count?,
                                    media_count?, account_type?}], page_size, empty_page_with_next,
                                    expires_in_omitted, granted [..], declined [..]} (partial;
                                    `pages` replaces the list). Generated ids: Pages
                                    1080000000000NN, IG accounts 178414000000000NN.
  GET|POST /_control/ig_user        {username, name, account_type BUSINESS|MEDIA_CREATOR|..,
                                    user_id (code-exchange user_id, default 27640875392278831),
                                    ig_id (IG professional id = /me user_id, used in paths,
                                    default 17841400000000090), app_scoped_id (/me id); a new
                                    username gets new ids unless given (a username seen before,
                                    or owned by a Page's IG account, keeps its ids),
                                    shape "A"|"B" (default B),
                                    me_shape "flat"|"data", code_suffix "fragment"|"encoded"|
                                    "none", drop_scope str|null, denial_without_state bool}
  GET|POST /_control/clock          GET -> {now, offset}; POST {"advance": s} or {"set": unix}.
  GET|POST|DELETE /_control/fault   POST one fault object or {"faults": [...]}:
                                    {route: regex searched in "<host><path>", method?, nth
                                    (1-based first matching call that fires; null = from the
                                    first), times (how many firings; null = unlimited, but 1
                                    when nth is given), kind, status, code, subcode, message,
                                    type, user_title, user_msg, is_transient, headers {..},
                                    body, content_type, seconds (hang, default 5), interval
                                    (drip, default 0.2)}. kinds: error (Graph envelope, 400),
                                    flat (IG flat envelope, 400), html (502 page), nonjson (200
                                    text), truncated (Content-Length larger than the body),
                                    huge (5 MB JSON), reset (RST, no answer), hang (sleep then
                                    answer normally), drip (normal answer, 1 byte per
                                    interval), drop (request processed, FIN without answer).
                                    Faults fire before processing (except hang/drip/drop).
                                    GET lists with matched/fired counters; DELETE clears all.
  POST   /_control/revoke           {"token": t} or {"subject": fb user/page/ig id,
                                    "subcode": 460} -> later uses give 190/<subcode>.
  POST   /_control/expire_tokens    {"kind": "ig_long"|...} or {"token": t} (none = all).
  POST   /_control/issue_token      {"kind": fb_short|fb_long|page|ig_short|ig_long,
                                    "page_id"?, "scopes"?, "age"? (seconds already elapsed)}
                                    -> mint a token without a login; returns the token record.
  GET|DELETE /_control/requests     log of calls to the Meta hosts: [{t, method, host, path,
                                    query {k: v}, raw_query, headers {all, unredacted}, form,
                                    body_len, status, fault?}]; ?host=..&path=substring filters.
  GET    /_control/state            {now, sandbox, config, fb_user, ig_user, accounts, tokens
                                    [{token, kind, subject, owner, issued_at, expires_at,
                                    revoked, revoke_subcode, scopes, parent}], codes_issued,
                                    codes_used, publishes {ig id: total}, publishes_24h,
                                    containers {id: {...status_code, polls, media_id}}, media,
                                    faults}.
  GET    /_control/help             {"doc": this text}
"""

__all__ = ["make_server"]


def make_server(*args, **kwargs):
    from .server import make_server as _mk
    return _mk(*args, **kwargs)

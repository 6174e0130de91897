-- Form abuse: POSTs to form endpoints per client of one site and UTC day, whatever the answer
-- (a spam sign-up is answered 200 or 302, so no failure is ever logged).
-- Grain: one row per client_ip of day_requests that POSTed to a form endpoint (day_paths.sql).
-- Parameters (policy [detect]):
--   $form_min_posts         5    form POSTs in the day, at least this many ...
--   $form_factor            2.5  ... and this many times the site's median per posting client
--   $form_max_fill_seconds  3    a form page POSTed back to its own path this soon after the
--                                client loaded it counts as a fast fill
-- ($form_min_fast_posts, 1: fast fills in the day that make a candidate, applies in
-- abuse_candidates.sql.) Either way in suffices:
--
-- * volume: count_form_posts >= form_floor = greatest($form_min_posts, $form_factor * median),
--   the median taken over the site's clients that POSTed a form that day. basjes (a Plone site
--   whose unadvertised /join_form only bots find): every posting client runs rounds of
--   GET /join_form, POST /join_form (302), GET /login_form, POST /login_form (200); the median
--   is 2 POSTs a day (one round), so the floor is 5, two and a half rounds: 216.244.81.34
--   (38 POSTs on 2015-10-26), 192.99.244.139 (12), 173.44.194.237 (10), nine clients in all.
--   On a site whose posters are people the median is 1 and the floor stays 5: a person posts
--   a contact form once or twice, a login a few times.
-- * fill time: a form page POSTed back to its own path at most $form_max_fill_seconds after the
--   client's GET of it. In basjes 510 of the 578 POST /join_form came at most 3 s after the
--   client's GET /join_form (340 within 1 s); nobody types a user name, e-mail address and
--   password in 3 s. Login forms do not count here (a password manager fills and sends a login
--   in a second); nor does a POST to another path than the page loaded (a one-click "join" or
--   "subscribe" button on a content page), nor a POST without a GET before it. One fast fill is
--   enough ($form_min_fast_posts = 1): 415 of basjes' 439 spamming clients make only one or two
--   rounds over six days, so volume alone finds 9 of them; with one fast sign-up the family
--   finds 361, all 24 of the issue's "five POSTs or more" clients among them (with 2: 32, 17 of
--   the 24). Risk, unmeasured (no real log here holds a legitimate sign-up): a one-field form
--   on its own page (newsletter) filled by autofill in under 3 s; it scores 1, the lowest.
--
-- Why no "5 POSTs within 60 s" window: no client of any real log does that. In basjes the
-- busiest 60 s of any client hold 3 POSTs and the busiest 10 minutes 5; the spammers come back
-- minutes to hours later (the "within seconds" is the fill time, GET to POST). So the day is the
-- window, as for bruteforce, and a real flood of POSTs within seconds passes the floor anyway.
-- Declared crawlers are not exempt: a real crawler does not POST forms.

with posts as (
    select day_requests.client_ip, day_requests.ts, day_paths.path_normal, day_paths.is_login_form
    from day_requests
    inner join day_paths using (path)
    where day_requests.method = 'POST' and day_paths.is_form
),

loads as (  -- GETs of a form page: the start of a fill
    select day_requests.client_ip, day_paths.path_normal, day_requests.ts as loaded_at
    from day_requests
    inner join day_paths using (path)
    where day_requests.method = 'GET' and day_paths.is_form
),

fills as (  -- each POST with the client's latest GET of the same path before it
    select
        posts.*,
        epoch(posts.ts) - epoch(loads.loaded_at) as fill_seconds
    from posts
    asof left join loads
        on posts.client_ip = loads.client_ip
        and posts.path_normal = loads.path_normal
        and posts.ts >= loads.loaded_at
),

per_client as (
    select
        client_ip,
        count(*) as count_form_posts,
        count(*) filter (where not is_login_form and fill_seconds <= $form_max_fill_seconds)
            as count_fast_form_posts
    from fills
    group by client_ip
),

site_normal as (
    select greatest($form_min_posts, $form_factor * coalesce(median(count_form_posts), 1)) as form_floor
    from per_client
),

final as (
    select per_client.*, site_normal.form_floor
    from per_client
    cross join site_normal
)

select * from final

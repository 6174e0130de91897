-- Credential probes: requests for login or admin endpoints that the site turned away, per
-- client of one site and UTC day; even one, even on one path.
-- Grain: one row per client_ip of day_requests with at least one such request.
-- No parameters ($credential_min_requests, 1, and the exemptions apply in abuse_candidates.sql).
--
-- Turned away (the endpoint lists are in day_paths.sql):
-- * the login or admin page of software everybody attacks blindly (wp-login.php, xmlrpc.php,
--   /wp-admin/, /administrator/, Drupal's /user/login, phpMyAdmin, /manager/html,
--   /dede/login.php) answered 3xx (not 304), 4xx or 5xx;
-- * any path naming a login or admin page answered 4xx or 5xx only: a site's own /admin or
--   /login often redirects (302 to its login page) and must not count.
-- A page that answers 200 never counts: a visitor or crawler following the site's own "log in"
-- link is no probe (zanbil: bingbot and AhrefsBot fetch /login/auth?forwardUri=..., shoppers open
-- /login/auth and /customer/register, all 200).
--
-- Why one request is enough ($credential_min_requests = 1): the probes of these logs are one
-- request each, from many addresses. secrepo 2018: 26 addresses with one user agent
-- (Firefox/40.1) each ask GET /wp-login.php once (418), GET / and leave: a distributed WordPress
-- brute-force botnet looking for targets. The elastic log (meant as a benign control): 21
-- addresses without a user agent each ask one of /wp-admin/, /blog/wp-admin/, /wp/wp-admin/,
-- /wordpress/wp-admin/ (404) and leave; six more one /wp-login.php?action=register with a forged
-- referrer. secrepo 2021: /xmlrpc.php, /administrator/index.php, /phpmyadmin, /admin (301 then
-- 404) once each from different addresses, and POST /admin/index.asp from a fake "Baispider".
-- With 2 the family would find 7 of elastic's 35 and 3 of secrepo 2018's 31.
--
-- has_own_login: the client logged in that day: a POST to a login endpoint answered 301/302/303
-- (a successful login redirects) followed by a page other than that login page answered 2xx, as
-- a site's administrator does after /wp-admin/ sent them (302) to the login page. A failed login
-- that redirects back to its own form (POST /login 302, GET /login?error 200) is no login.

with classified as (
    select
        day_requests.row_id,
        day_requests.client_ip,
        day_requests.ts,
        day_requests.method,
        day_requests.status,
        day_requests.is_page,
        day_paths.path_normal,
        coalesce(day_paths.is_known_login or day_paths.is_login_name or day_paths.is_login_form, false)
            as is_login_endpoint,
        coalesce(
            (day_paths.is_known_login and day_requests.status >= 300 and day_requests.status <> 304)
            or (day_paths.is_login_name and day_requests.status >= 400),
            false
        ) as is_credential_probe
    from day_requests
    left join day_paths using (path)
),

probers as (
    select
        client_ip,
        count(*) filter (where is_credential_probe) as count_credential_probes
    from classified
    group by client_ip
    having count(*) filter (where is_credential_probe) > 0
),

logins as (
    select distinct post.client_ip
    from classified as post
    inner join classified as after
        on after.client_ip = post.client_ip
        and after.ts >= post.ts
        and after.row_id <> post.row_id
        and after.status between 200 and 299
        and after.is_page
        and after.path_normal is distinct from post.path_normal
    where
        post.method = 'POST'
        and post.status in (301, 302, 303)
        and post.is_login_endpoint
        and post.client_ip in (select client_ip from probers)
),

final as (
    select
        probers.client_ip,
        probers.count_credential_probes,
        probers.client_ip in (select client_ip from logins) as has_own_login
    from probers
)

select * from final

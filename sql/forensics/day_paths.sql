-- The distinct paths of day_requests, classified for the form_abuse and credential_probe families.
-- Grain: one row per distinct non-null path of the temp table day_requests (day_requests.sql).
-- No parameters. accesslake.forensics.candidates runs it into the temp table day_paths.
--
-- path_normal: the path as matched: percent-decoded twice, lower case, scheme and host dropped
--   ("POST http://host/join_form"), repeated slashes collapsed ("//admin/login.php").
-- is_form: a form endpoint: a path segment (or a part of one between '_', '.' and '-') naming
--   a form, login, sign-in/up, register(ation), join, contact, comment(s), feedback,
--   guestbook, subscribe, newsletter or trackback, plus WordPress's wp-comments-post.php,
--   wp-login.php and xmlrpc.php (its comment, login and remote-login endpoints).
--   Shop AJAX endpoints (zanbil's /m/updateVariation, /ajaxFilter/..., /comparison/add) are not.
-- is_login_form: the subset that logs in (login, sign-in, wp-login.php, xmlrpc.php): a password
--   manager fills and sends those in a second, so they have no fill-time rule (form_abuse.sql).
-- is_known_login: the login or admin page of software everybody attacks blindly: wp-login.php,
--   xmlrpc.php, /wp-admin/ (itself or a .php in it, not its css/ or js/), Joomla's
--   /administrator/, Drupal's /user/login, /user/register, /user/password, phpMyAdmin (pma,
--   myadmin, mysqladmin, dbadmin), Tomcat's /manager/html, DedeCMS's /dede/login.php.
-- is_login_name: any path naming a login or admin page (/admin, /admin.php, /admin/index.asp,
--   /admin/login.php, /login.php, /Office/index.php/login/index.html ...).

with paths as (
    select distinct path from day_requests where path is not null
),

paths_normal as (
    select
        path,
        regexp_replace(
            regexp_replace(
                lower(coalesce(try(url_decode(coalesce(try(url_decode(path)), path))), path)),
                '^[a-z][a-z0-9+.-]*://[^/]*', ''
            ),
            '/{2,}', '/', 'g'
        ) as path_normal
    from paths
),

final as (
    select
        path,
        path_normal,
        regexp_matches(
            path_normal,
            '(^|[/_.-])(forms?|log_?in|sign_?(in|up)|register|registration|join|contact|comments?'
            || '|feedback|guestbook|subscribe|newsletter|trackback)([/_.-]|$)'
            || '|(^|/)(wp-comments-post|wp-login|xmlrpc)\.php$'
        ) as is_form,
        regexp_matches(path_normal, '(^|[/_.-])(log_?in|sign_?in)([/_.-]|$)|(^|/)(wp-login|xmlrpc)\.php$')
            as is_login_form,
        regexp_matches(
            path_normal,
            '(^|/)(wp-login|xmlrpc)\.php$|(^|/)wp-admin(/([a-z0-9_-]+\.php)?)?$|(^|/)administrator(/(index\.php)?)?$'
            || '|(^|/)user/(login|register|password)$|(^|/)manager/html$|(^|/)dede/login\.php$'
            || '|(^|/)(phpmyadmin[^/]*|pma|myadmin|mysqladmin|dbadmin)(/(index\.php)?)?$'
        ) as is_known_login,
        regexp_matches(
            path_normal,
            '(^|/)(admin|administrator|adm|backend|webadmin|siteadmin|admincp|cpanel|login|log-in|signin|sign-in|logon)'
            || '(/|\.(php|asp|aspx|jsp|cgi|html?))?$'
            || '|(^|/)(admin|administrator|login|signin)/((index|login|default|admin)\.(php|asp|aspx|jsp|cgi|html?))?$'
            || '|(^|/)[a-z0-9_-]*(login|logon|signin)[a-z0-9_-]*\.(php|asp|aspx|jsp|cgi)$'
        ) as is_login_name
    from paths_normal
)

select * from final

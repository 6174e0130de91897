-- Abuse candidates: the clients of one site and UTC day whose requests look like an attack.
-- Grain: one row per client_ip of the site and day that shows at least one behaviour.
-- Inputs (temp tables accesslake.forensics.candidates builds for the site and day, in order):
--   day_requests       the day's rows still personal and in time (day_requests.sql)
--   day_paths          the day's distinct paths, classified (day_paths.sql)
--   form_abuse         form POSTs and fast fills per client (form_abuse.sql)
--   credential_probes  turned-away login/admin requests per client (credential_probes.sql)
-- Parameters:
--   $site, $day, $now (detected_at)
--   thresholds of the policy's [detect] section: $scanner_min_probe_paths, $scanner_min_404_paths,
--              $scanner_min_404_share, $bruteforce_min_posts, $bruteforce_min_auth_failures,
--              $flood_min_per_minute, $flood_factor, $injection_min_requests,
--              $odd_method_min_requests, $form_min_fast_posts, $credential_min_requests
--              (form_min_posts, form_factor and form_max_fill_seconds go to form_abuse.sql)
-- Behaviours, one CTE each (docs/forensics.md explains every threshold):
--   scanners      probes of well-known attack paths, or 404s on many distinct paths making
--                 most of its requests
--   bruteforcers  many POSTs to one path, or many failed authentications (401, 403 on POST)
--   floods        peak requests per minute far above the site's median per client-minute
--   injections    SQL injection, path traversal, XSS, shell or template payloads in the path,
--                 query or referrer (as logged and percent-decoded twice); in the user agent
--                 only unambiguous ones (script tags, ${jndi:, $(, shellshock, union select, ../)
--   odd_methods   HTTP methods outside GET HEAD POST OPTIONS PUT DELETE PATCH, or a request
--                 line that is not HTTP at all (a TLS handshake on port 80, junk)
--   form_abusers  form POSTs at least form_floor times (5, or 2.5 x the site's median per
--                 posting client), or a sign-up/contact form sent back within 3 s of loading it
--                 at least $form_min_fast_posts times (1); thresholds explained in form_abuse.sql
--   credential_probers  at least $credential_min_requests (1) turned-away requests for login or
--                 admin endpoints; thresholds explained in credential_probes.sql
-- Declared search-engine crawlers (Googlebot, bingbot, ...) are exempt from the 404, flood,
-- authentication-failure and credential-probe rules, never from probes, payloads, methods or
-- form posts (a user agent is easily faked; verifying a crawler needs a reverse DNS lookup,
-- which rule D3 forbids; a real crawler posts no form). A crawler following a dead link to
-- /wp-login.php on a site that left WordPress answers 404: with a threshold of one request that
-- would put Googlebot on the list. Only the names are exempt, not ua-parser's generic
-- Spider/is_bot: python-requests, curl and the fake "Baispider" of secrepo 2021 stay in, and the
-- scanner rule (2 probe paths) keeps applying to crawlers. A client that logged in that day
-- (credential_probes.sql, has_own_login) is exempt from credential_probe.
-- Score: per behaviour its measure divided by its threshold, capped at 10; summed.

with requests as (
    select row_id, ts, received_at, client_ip, method, path, query, status, referrer, user_agent
    from day_requests
),

-- The costly part (percent-decoding, payload and probe patterns) runs once per distinct
-- (path, query, referrer) and per distinct user agent, not once per request.
targets as (
    select distinct path, query, referrer from requests
),

targets_decoded as (
    select
        *,
        path_raw || chr(10) || coalesce(try(url_decode(coalesce(try(url_decode(path_raw)), path_raw))), path_raw)
            as path_all,
        target_raw || chr(10) || coalesce(try(url_decode(coalesce(try(url_decode(target_raw)), target_raw))), target_raw)
            as target_all
    from (
        select
            *,
            lower(coalesce(path, '')) as path_raw,
            lower(concat_ws(chr(10), path || coalesce('?' || query, ''), referrer)) as target_raw
        from targets
    )
),

targets_flagged as (
    select
        path,
        query,
        referrer,
        coalesce(try(url_decode(path_raw)), path_raw) as path_decoded,
        -- probes no ordinary visitor of any site makes, whatever the answer
        regexp_matches(
            path_all,
            '(^|/)\.(env|git|svn|hg|aws|ssh|vscode|ds_store|htaccess|htpasswd|bash_history)([./]|$)'
            || '|phpmyadmin|/pma/|/myadmin/|/mysql/admin|/(shell|phpinfo|info|c99|r57|wso|eval-stdin)\.php$'
            || '|/vendor/phpunit/|/boaform/|/hnap1|/manager/html|/actuator/|/solr/admin|/owa/auth/'
            || '|/telescope/|/_ignition/|/_profiler/|/web\.config$|/etc/passwd|telerik\.web\.ui\.webresource\.axd'
            || '|/(backup|backups|back|dump|db|database|site|www|wwwroot|upload|htdocs)\.(sql|zip|rar|7z|tar|tar\.gz|tgz|bak)$'
            || '|\.(sql|bak|old|swp)$'
        ) as is_probe_always,
        -- probes of software a site may really run: they count only when answered 4xx/5xx
        regexp_matches(
            path_all,
            'wp-login\.php|/wp-admin(/|$)|xmlrpc\.php|wlwmanifest\.xml|/cgi-bin/|/admin\.php$'
            || '|/administrator/|/server-(status|info)$|/autodiscover/autodiscover\.xml$'
        ) as is_probe_if_refused,
        regexp_matches(
            target_all,
            'union[\s/*!0-9()+]*(all[\s/*!0-9()+]*)?select|\(\s*select\s.{1,80}\sfrom\s|\bor\s+[''"]?\d+[''"]?\s*=\s*[''"]?\d|''\s*(or|and)\s+['']'
            || '|;\s*(drop|insert|update|delete|exec|shutdown)\s|\b(sleep|benchmark|pg_sleep)\s*\(\s*\d'
            || '|waitfor\s+delay|information_schema|xp_cmdshell|load_file\s*\(|into\s+outfile'
            || '|\.\./|\.\.\\|/etc/passwd|/proc/self/|win\.ini|%c0%ae'
            || '|<script|javascript:|\bon(error|load)\s*=|<svg[\s/]|<iframe|document\.cookie'
            || '|\$\(|\$\{\s*(jndi|env|sys|java|lower|upper|date|ctx|base64|::-)|\(\)\s*\{'
            || '|(;|\||&&)\s*(ls|cat|wget|curl|id|uname|whoami|sh|bash|nc|rm|echo|chmod|perl|python|ping)\b'
        ) as is_injection_target
    from targets_decoded
),

agents_flagged as (
    select
        user_agent,
        -- user agents carry ';' and locale codes, so only unambiguous payloads count there
        regexp_matches(
            agent_raw || chr(10) || coalesce(try(url_decode(agent_raw)), agent_raw),
            '<script|javascript:|\$\{\s*(jndi|env|sys|java|lower|upper|date|ctx|base64|::-)|\$\(|\(\)\s*\{'
            || '|union[\s/*!0-9()+]*(all[\s/*!0-9()+]*)?select|\.\./'
        ) as is_injection_agent,
        regexp_matches(
            coalesce(user_agent, ''),
            '(?i)googlebot|bingbot|yandex(bot|images)|baiduspider|duckduckbot|applebot|seznambot|slurp'
            || '|mj12bot|ahrefsbot|semrushbot|dotbot|petalbot|qwantify|facebookexternalhit'
        ) as is_known_crawler
    from (select user_agent, lower(coalesce(user_agent, '')) as agent_raw from (select distinct user_agent from requests))
),

flagged as (
    select
        requests.*,
        targets_flagged.path_decoded,
        targets_flagged.is_probe_always
            or (requests.status >= 400 and targets_flagged.is_probe_if_refused) as is_probe,
        targets_flagged.is_injection_target or agents_flagged.is_injection_agent as is_injection,
        (requests.method is null and requests.path is not null)
            or requests.method not in ('GET', 'HEAD', 'POST', 'OPTIONS', 'PUT', 'DELETE', 'PATCH') as is_odd_method,
        requests.status = 401 or (requests.status = 403 and requests.method = 'POST') as is_auth_failure,
        agents_flagged.is_known_crawler
    from requests
    inner join targets_flagged
        on requests.path is not distinct from targets_flagged.path
        and requests.query is not distinct from targets_flagged.query
        and requests.referrer is not distinct from targets_flagged.referrer
    inner join agents_flagged on requests.user_agent is not distinct from agents_flagged.user_agent
),

per_client as (
    select
        client_ip,
        count(*) as count_requests,
        count(*) filter (where status = 404) as count_404,
        -- distinct counts over the few matching rows (count(distinct ...) filter (...) groups every row)
        coalesce(list_unique(list(path) filter (where status = 404)), 0)::bigint as count_404_paths,
        count(*) filter (where method = 'POST') as count_posts,
        count(*) filter (where is_auth_failure) as count_auth_failures,
        coalesce(list_unique(list(path_decoded) filter (where is_probe)), 0)::bigint as count_probe_paths,
        count(*) filter (where is_injection) as count_injections,
        count(*) filter (where is_odd_method) as count_odd_methods,
        bool_and(is_known_crawler) as is_known_crawler,
        min(ts) as first_seen_at,
        max(ts) as last_seen_at,
        min(least(ts, received_at)) as oldest_at
    from flagged
    group by client_ip
),

per_minute as (
    select client_ip, date_trunc('minute', ts) as minute_at, count(*) as count_requests
    from requests
    group by client_ip, minute_at
),

site_normal as (
    select coalesce(median(count_requests), 1) as median_per_minute from per_minute
),

peaks as (
    select client_ip, max(count_requests) as peak_per_minute
    from per_minute
    group by client_ip
),

posts_per_path as (
    select client_ip, path, count(*) as count_posts
    from requests
    where method = 'POST'
    group by client_ip, path
),

max_posts as (
    select client_ip, max(count_posts) as max_posts_one_path
    from posts_per_path
    group by client_ip
),

measures as (
    select
        per_client.*,
        peaks.peak_per_minute,
        coalesce(max_posts.max_posts_one_path, 0) as max_posts_one_path,
        greatest($flood_min_per_minute, $flood_factor * site_normal.median_per_minute) as flood_per_minute,
        coalesce(form_abuse.count_form_posts, 0) as count_form_posts,
        coalesce(form_abuse.count_fast_form_posts, 0) as count_fast_form_posts,
        form_abuse.form_floor,
        coalesce(credential_probes.count_credential_probes, 0) as count_credential_probes,
        coalesce(credential_probes.has_own_login, false) as has_own_login
    from per_client
    inner join peaks using (client_ip)
    left join max_posts using (client_ip)
    left join form_abuse using (client_ip)
    left join credential_probes using (client_ip)
    cross join site_normal
),

scanners as (
    select
        client_ip,
        'scanner' as kind,
        greatest(
            count_probe_paths / $scanner_min_probe_paths,
            if(is_known_crawler, 0, count_404_paths / $scanner_min_404_paths)
        ) as strength
    from measures
    where
        count_probe_paths >= $scanner_min_probe_paths
        or (
            not is_known_crawler
            and count_404_paths >= $scanner_min_404_paths
            and count_404 / count_requests >= $scanner_min_404_share
        )
),

bruteforcers as (
    select
        client_ip,
        'bruteforce' as kind,
        greatest(
            max_posts_one_path / $bruteforce_min_posts,
            if(is_known_crawler, 0, count_auth_failures / $bruteforce_min_auth_failures)
        ) as strength
    from measures
    where
        max_posts_one_path >= $bruteforce_min_posts
        or (not is_known_crawler and count_auth_failures >= $bruteforce_min_auth_failures)
),

floods as (
    select client_ip, 'flood' as kind, peak_per_minute / flood_per_minute as strength
    from measures
    where not is_known_crawler and peak_per_minute >= flood_per_minute
),

injections as (
    select client_ip, 'injection' as kind, count_injections / $injection_min_requests as strength
    from measures
    where count_injections >= $injection_min_requests
),

odd_methods as (
    select client_ip, 'odd_method' as kind, count_odd_methods / $odd_method_min_requests as strength
    from measures
    where count_odd_methods >= $odd_method_min_requests
),

form_abusers as (
    select
        client_ip,
        'form_abuse' as kind,
        greatest(count_form_posts / form_floor, count_fast_form_posts / $form_min_fast_posts) as strength
    from measures
    where count_form_posts >= form_floor or count_fast_form_posts >= $form_min_fast_posts
),

credential_probers as (
    select client_ip, 'credential_probe' as kind, count_credential_probes / $credential_min_requests as strength
    from measures
    where count_credential_probes >= $credential_min_requests and not is_known_crawler and not has_own_login
),

behaviours as (
    select * from scanners
    union all
    select * from bruteforcers
    union all
    select * from floods
    union all
    select * from injections
    union all
    select * from odd_methods
    union all
    select * from form_abusers
    union all
    select * from credential_probers
),

candidates as (
    select
        client_ip,
        list(kind order by kind) as kinds,
        round(sum(least(strength, 10)), 2) as score
    from behaviours
    group by client_ip
),

example_requests as (
    select
        client_ip,
        -- built here, for the candidates' rows only
        left(concat_ws(' ', method, path || coalesce('?' || query, '')), 200) as request,
        bool_or(is_probe or is_injection or is_odd_method or is_auth_failure or status >= 400 or method = 'POST')
            as is_suspicious,
        min(ts) as first_at
    from flagged
    where client_ip in (select client_ip from candidates)
    group by client_ip, request
),

examples as (
    select client_ip, list(request order by is_suspicious desc, first_at, request)[1:5] as example_requests
    from example_requests
    group by client_ip
),

agent_counts as (
    select client_ip, user_agent, count(*) as count_requests
    from requests
    where user_agent is not null and client_ip in (select client_ip from candidates)
    group by client_ip, user_agent
),

agents as (
    select client_ip, list(user_agent order by count_requests desc, user_agent)[1:3] as user_agents
    from agent_counts
    group by client_ip
),

final as (
    select
        'AC-' || left(sha256($site || '/' || strftime($day::date, '%Y-%m-%d') || '/' || candidates.client_ip), 16)
            as candidate_id,
        $site as site,
        $day::date as day,
        candidates.client_ip,
        candidates.kinds,
        candidates.score,
        measures.count_requests,
        measures.count_404,
        measures.count_404_paths,
        measures.count_posts,
        measures.count_auth_failures,
        measures.count_probe_paths,
        measures.count_injections,
        measures.count_odd_methods,
        measures.count_form_posts,
        measures.count_fast_form_posts,
        measures.count_credential_probes,
        measures.peak_per_minute,
        measures.max_posts_one_path,
        measures.first_seen_at,
        measures.last_seen_at,
        measures.oldest_at,
        examples.example_requests,
        coalesce(agents.user_agents, []) as user_agents,
        $now::timestamptz as detected_at
    from candidates
    inner join measures using (client_ip)
    inner join examples using (client_ip)
    left join agents using (client_ip)
    order by candidates.score desc, candidates.client_ip
)

select * from final

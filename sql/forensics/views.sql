-- Forensic views and macros: recent un-anonymised requests plus the held dataset, with IPs.
-- For incident response only. The analyst views (sql/views.sql) stay IP-free and never
-- read held/; nothing here is loaded by them.
--
-- Grain: forensic_requests, one row per stored request that is still personal data:
--   rows of requests/ not yet anonymised (client_ip set, anonymized_at null, hard limit not
--   passed at `now`) plus rows of held/ whose hold is active at `now`. Each macro names its
--   own grain below. abuse_candidates, one row per candidate (client, site, UTC day).
--
-- DuckDB shell (1.3 or later for the lambda syntax; tested with 1.5), from the repository
-- root, one command:
--   duckdb -cmd "SET VARIABLE lake = 'data/lake'" -cmd ".read sql/empty_tables.sql" \
--          -cmd ".read sql/forensics/views.sql"
-- (not `-init`: the shell runs the init file before any -cmd, so `lake` would not be set yet).
-- Python: accesslake.forensics.views.connect(lake, now), which also appends a `forensic.query`
-- line to the audit log; the plain shell cannot, so use forensics.open_shell or
-- `accesslake sql --forensic` when the access must be on record.
--
-- Variables (set before reading this file; read with getvariable, never pasted into SQL):
--   lake           the lake folder (default data/lake)
--   now            the clock for hold status and deadlines (default the real clock)
--   max_age_hours  the hard limit of rule P2 (default 168)
-- Which files exist is looked up when this file runs: run it again to see newer files.
--
-- Client targets: every macro taking `target` accepts an IPv4 or IPv6 address (any
-- spelling: '2001:DB8::1', '[2001:db8:0:0::1]', '::ffff:192.0.2.1'), a CIDR network
-- ('192.0.2.0/24', '2001:db8::/32') or a host name as logged (NASA-style logs).
-- CIDR matching is plain SQL on bit strings ('0'/'1', 32 or 128 of them): the inet
-- extension is not needed (it cannot be installed offline).
-- Limitation: IPv6 with an embedded dotted IPv4 tail other than ::ffff:a.b.c.d (e.g.
-- 64:ff9b::192.0.2.1) is not parsed and matches only as the exact logged text.

set TimeZone = 'UTC';

set variable lake = coalesce(getvariable('lake'), 'data/lake');

set variable now = coalesce(getvariable('now'), now());

set variable max_age_hours = coalesce(getvariable('max_age_hours'), 168);

set variable forensic_request_files = (
    select coalesce(list(file order by file), [])
    from glob(getvariable('lake') || '/requests/site=*/date=*/*.parquet')
);

set variable forensic_held_files = (
    select coalesce(list(file order by file), [])
    from glob(getvariable('lake') || '/held/incident=*/site=*/date=*/*.parquet')
);

set variable forensic_hold_files = (
    select coalesce(list(file order by file), [])
    from glob(getvariable('lake') || '/incidents/INC-*.json')
);

set variable forensic_candidate_files = (
    select coalesce(list(file order by file), [])
    from glob(getvariable('lake') || '/forensics/abuse_candidates/site=*/date=*/*.parquet')
);

-- typed empty tables: a dataset without files still gives a view with the right columns
-- (requests and candidates: lake_empty, generated in sql/empty_tables.sql; read it first)
create schema if not exists forensic_empty;

create or replace table forensic_empty.holds (
    id varchar,
    case_reference varchar,
    status varchar,
    opened_at timestamptz,
    review_at timestamptz,
    scope struct(
        "start" timestamptz, "end" timestamptz, ips varchar[], cidrs varchar[], session_ids varchar[],
        paths varchar[], user_agents varchar[]
    )
);

-- ------------------------------------------------------------------ IP addresses in SQL

-- the logged address in one spelling: lower case, no brackets or zone, ::ffff:a.b.c.d -> a.b.c.d
create or replace macro ip_text(ip) as
    regexp_replace(lower(split_part(trim(ip, '[] '), '%', 1)), '^::ffff:(\d{1,3}(\.\d{1,3}){3})$', '\1');

-- DuckDB inlines macros, so a macro naming its argument twice copies the whole argument
-- expression; `list_transform([x], lambda v: ...)[1]` binds it once (a `let`).

-- an IPv4 address in ip_text spelling as 32 '0'/'1'; NULL if it is not one
create or replace macro ip4_bits(t) as
    list_transform([t], lambda v4: case
        when regexp_full_match(v4, '(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}')
        then lpad(
            bin(
                split_part(v4, '.', 1)::bigint * 16777216 + split_part(v4, '.', 2)::bigint * 65536
                + split_part(v4, '.', 3)::bigint * 256 + split_part(v4, '.', 4)::bigint
            ),
            32,
            '0'
        )
    end)[1];

-- an IPv6 address in ip_text spelling with '::' written out as zero groups
create or replace macro ip6_expanded(t) as
    list_transform([t], lambda v6: case
        when v6 like '%::%::%' then null
        when contains(v6, '::') then list_transform([trim(replace(v6, '::', ':z:'), ':')], lambda marked: replace(
            marked, 'z', rtrim(repeat('0:', 8 - length(regexp_replace(marked, '[^:]', '', 'g'))), ':')
        ))[1]
        else v6
    end)[1];

-- an expanded IPv6 address as 128 '0'/'1'; NULL if it is not one
create or replace macro ip6_bits(e) as
    list_transform([e], lambda expanded: case
        when regexp_full_match(expanded, '([0-9a-f]{1,4}:){7}[0-9a-f]{1,4}')
        then array_to_string(
            list_transform(string_split(expanded, ':'), lambda grp: lpad(bin(('0x' || grp)::integer), 16, '0')), ''
        )
    end)[1];

-- IPv4-mapped IPv6 in hex form (::ffff:c000:201) is the IPv4 address
create or replace macro ip6_unmapped(bits) as
    list_transform([bits], lambda b: if(starts_with(b, repeat('0', 80) || repeat('1', 16)), right(b, 32), b))[1];

-- any logged address as 32 (IPv4) or 128 (IPv6) '0'/'1'; NULL for a host name
create or replace macro ip_bits(ip) as
    list_transform([ip_text(ip)], lambda t: coalesce(ip4_bits(t), ip6_unmapped(ip6_bits(ip6_expanded(t)))))[1];

-- the prefix of the IPv4-mapped IPv6 space ::ffff:0:0/96, as bits
create or replace macro mapped_prefix() as repeat('0', 80) || repeat('1', 16);

-- a network ('192.0.2.0/24', '2001:db8::/32', an address) as {bits, prefix}; a network inside
-- ::ffff:0:0/96 with prefix 96 or more becomes the IPv4 network (as incident holds do)
create or replace macro network_of(cidr) as
    list_transform(
        [{
            'text': split_part(cidr, '/', 1),
            'bits': ip_bits(split_part(cidr, '/', 1)),
            'prefix': try_cast(nullif(split_part(cidr, '/', 2), '') as integer)
        }],
        lambda net: case
            when net.bits is null then {'bits': null::varchar, 'prefix': null::integer}
            when contains(net.text, ':') and length(net.bits) = 32 and coalesce(net.prefix, 128) >= 96
                then {'bits': net.bits, 'prefix': coalesce(net.prefix, 128) - 96}
            when contains(net.text, ':') and length(net.bits) = 32
                then {'bits': mapped_prefix() || net.bits, 'prefix': net.prefix}
            else {'bits': net.bits, 'prefix': coalesce(net.prefix, length(net.bits))}
        end
    )[1];

-- is the address `bits` inside the network `net_bits`/`prefix`?
create or replace macro bits_in_network(bits, net_bits, prefix) as
    list_transform(
        [{'a': bits, 'n': net_bits, 'p': prefix}],
        lambda v: coalesce(
            length(v.a) = length(v.n) and v.p between 0 and length(v.n) and left(v.a, v.p) = left(v.n, v.p),
            false
        )
    )[1];

-- does the logged address (text `ip`, bits `bits`) lie in `net` (from network_of)? An
-- IPv4-mapped IPv6 address matches as IPv4 and as IPv6, like incident holds.
create or replace macro address_in_network(ip, bits, net) as
    bits_in_network(bits, net.bits, net.prefix)
    or (
        contains(ip, ':') and length(bits) = 32
        and bits_in_network(mapped_prefix() || bits, net.bits, net.prefix)
    );

-- is `ip` inside `cidr` ('192.0.2.0/24', '2001:db8::/32'; a plain address is a /32 or /128)?
create or replace macro ip_in_cidr(ip, cidr) as
    list_transform([{'ip': ip, 'bits': ip_bits(ip), 'net': network_of(cidr)}],
        lambda c: coalesce(address_in_network(c.ip, c.bits, c.net), false))[1];

-- does the logged client `ip` match `target` (an address, a CIDR network or a host name)?
create or replace macro client_matches(ip, target) as
    list_transform([target], lambda tgt: case
        when network_of(tgt).bits is not null then ip_in_cidr(ip, tgt)
        else not contains(tgt, '/') and coalesce(lower(ip) = lower(trim(tgt)), false)
    end)[1];

-- ------------------------------------------------------------------ the data

create or replace view forensic_holds as
select
    id as hold_id,
    case_reference,
    status,
    opened_at,
    review_at,
    status = 'active' and opened_at <= getvariable('now') and getvariable('now') < review_at as is_active,
    scope
from query(
    if(
        len(getvariable('forensic_hold_files')) > 0,
        'from read_json(getvariable(''forensic_hold_files''), columns = {id: ''varchar'', '
            || 'case_reference: ''varchar'', status: ''varchar'', opened_at: ''timestamptz'', '
            || 'review_at: ''timestamptz'', scope: ''struct("start" timestamptz, "end" timestamptz, '
            || 'ips varchar[], cidrs varchar[], session_ids varchar[], paths varchar[], user_agents varchar[])''})',
        'from forensic_empty.holds'
    )
);

create or replace view forensic_requests as
with main_rows as (
    select 'requests' as source, null::varchar as incident_id, *
    from query(
        if(
            len(getvariable('forensic_request_files')) > 0,
            'from read_parquet(getvariable(''forensic_request_files''), hive_partitioning = true, '
                || 'hive_types = {''site'': varchar, ''date'': date}, union_by_name = true)',
            'from lake_empty.requests'
        )
    )
),

held_rows as (
    select 'held' as source, incident as incident_id, * exclude (incident)
    from query(
        if(
            len(getvariable('forensic_held_files')) > 0,
            'from read_parquet(getvariable(''forensic_held_files''), hive_partitioning = true, '
                || 'hive_types = {''incident'': varchar, ''site'': varchar, ''date'': date}, union_by_name = true)',
            'select null::varchar as incident, * from lake_empty.requests'
        )
    )
),

personal_main as (
    select *
    from main_rows
    where
        client_ip is not null
        and anonymized_at is null
        and least(ts, received_at) + to_microseconds(cast(getvariable('max_age_hours') * 3600000000 as bigint))
            >= getvariable('now')
),

active_held as (
    select *
    from held_rows
    where incident_id in (select hold_id from forensic_holds where is_active)
),

final as (
    select * from personal_main
    union all by name
    select * from active_held
)

select
    source, incident_id, site, date, row_id, ts, client_ip, session_id, remote_user, forwarded_for,
    vhost, method, path, query, protocol, status, bytes, referrer, referrer_host, user_agent,
    browser, browser_version, os, os_version, device, is_bot, is_page, response_time_ms,
    received_at, anonymized_at, source_file, source_line
from final;

-- one row per candidate, as written by `accesslake detect` (accesslake.detect)
create or replace view abuse_candidates as
select *
from query(
    if(
        len(getvariable('forensic_candidate_files')) > 0,
        'from read_parquet(getvariable(''forensic_candidate_files''), union_by_name = true)',
        'from lake_empty.abuse_candidates'
    )
);

-- ------------------------------------------------------------------ macros

-- Grain: one row per distinct logged client matching `target`; each address is parsed once
-- here (not once per request), which the other macros rely on for speed.
create or replace macro matching_clients(target) as table
with clients as (
    select distinct client_ip, ip_text(client_ip) as ip
    from forensic_requests
    where client_ip is not null
),

expanded as (
    select client_ip, ip, if(contains(ip, ':'), ip6_expanded(ip), null) as ip6 from clients
),

addresses as (
    select client_ip, coalesce(ip4_bits(ip), ip6_unmapped(ip6_bits(ip6))) as bits from expanded
),

wanted as (
    select network_of(target) as net, contains(target, '/') as is_network, lower(trim(target)) as name
),

final as (
    select addresses.client_ip
    from addresses
    cross join wanted
    where
        case
            when wanted.net.bits is not null
                then coalesce(address_in_network(addresses.client_ip, addresses.bits, wanted.net), false)
            else not wanted.is_network and lower(addresses.client_ip) = wanted.name
        end
)

select * from final;

-- Grain: one row per request of the client(s), in time order.
create or replace macro ip_timeline(target) as table
with requests as (
    select * from forensic_requests where client_ip in (select client_ip from matching_clients(target))
),

final as (
    select * from requests order by ts, row_id
)

select * from final;

-- Grain: one row per client and session id (requests without a session cookie: one row
-- with session_id NULL per client).
create or replace macro client_sessions(target) as table
with requests as (
    select * from forensic_requests where client_ip in (select client_ip from matching_clients(target))
),

sessions as (
    select
        client_ip,
        session_id,
        min(ts) as first_seen_at,
        max(ts) as last_seen_at,
        count(*) as count_requests,
        count(*) filter (where is_page) as count_page_views,
        list(distinct user_agent order by user_agent) as user_agents,
        list(coalesce(method || ' ', '') || path order by ts, row_id)[1:10] as first_requests
    from requests
    group by client_ip, session_id
),

final as (
    select * from sessions order by first_seen_at, client_ip, session_id
)

select * from final;

-- Grain: one row per client and user-agent string.
create or replace macro client_user_agents(target) as table
with requests as (
    select * from forensic_requests where client_ip in (select client_ip from matching_clients(target))
),

agents as (
    select
        client_ip,
        user_agent,
        any_value(browser) as browser,
        any_value(os) as os,
        any_value(device) as device,
        bool_or(is_bot) as is_bot,
        count(*) as count_requests,
        count(distinct session_id) as count_sessions,
        min(ts) as first_seen_at,
        max(ts) as last_seen_at
    from requests
    group by client_ip, user_agent
),

final as (
    select * from agents order by count_requests desc, client_ip, user_agent
)

select * from final;

-- Grain: one row per request whose path, query, referrer or user agent matches the RE2
-- regular expression `pattern` (as logged, or once percent-decoded); prefix (?i) to ignore case.
create or replace macro requests_matching(pattern) as table
with requests as (
    select
        *,
        concat_ws(chr(10), path || coalesce('?' || query, ''), referrer, user_agent) as payload
    from forensic_requests
),

matched as (
    select * exclude (payload)
    from requests
    where
        regexp_matches(payload, pattern)
        or regexp_matches(coalesce(try(url_decode(payload)), ''), pattern)
),

final as (
    select * from matched order by ts, row_id
)

select * from final;

-- Grain: one row per client with requests in [start_at, end_at), busiest first, at most n.
create or replace macro top_talkers(start_at, end_at, n := 20) as table
with requests as (
    select * from forensic_requests where ts >= start_at::timestamptz and ts < end_at::timestamptz
),

talkers as (
    select
        client_ip,
        count(*) as count_requests,
        count(*) filter (where status = 404) as count_404,
        count(*) filter (where method = 'POST') as count_posts,
        count(distinct path) as count_paths,
        sum(bytes) as sum_bytes,
        min(ts) as first_seen_at,
        max(ts) as last_seen_at,
        list(distinct site order by site) as sites,
        list(distinct user_agent order by user_agent)[1:3] as user_agents
    from requests
    group by client_ip
),

final as (
    select * from talkers order by count_requests desc, client_ip limit n
)

select * from final;

-- Grain: one row per matching client: when it was first and last seen, where, how often.
create or replace macro first_last_seen(target) as table
with requests as (
    select * from forensic_requests where client_ip in (select client_ip from matching_clients(target))
),

seen as (
    select
        client_ip,
        min(ts) as first_seen_at,
        max(ts) as last_seen_at,
        count(*) as count_requests,
        count(distinct date) as count_days,
        list(distinct site order by site) as sites,
        list(distinct source order by source) as sources,
        coalesce(list(distinct incident_id order by incident_id) filter (where incident_id is not null), []) as incident_ids
    from requests
    group by client_ip
),

final as (
    select * from seen order by first_seen_at, client_ip
)

select * from final;

-- Grain: one row per request of an active hold, per client in time order: the hold's rows in
-- held/incident=<hold_id>/ plus the rows of requests/ inside its scope that the nightly run has
-- not moved yet (the rows an evidence export takes). `gap_seconds` is the time since the
-- client's previous request of the hold (NULL for its first); clients come in the order of
-- their first request. Scope criteria as holds match them: a client address or network
-- (ips, cidrs), a session id, a path glob (GLOB: `*` crosses '/'), a user-agent substring
-- (case-insensitive). A hold that is unknown, released or past its review date gives no rows.
create or replace macro incident_timeline(target_hold) as table
with hold as (
    select hold_id, case_reference, scope from forensic_holds where hold_id = target_hold and is_active
),

held as (
    select forensic_requests.*
    from forensic_requests
    where source = 'held' and incident_id = (select hold_id from hold)
),

in_window as (
    select forensic_requests.*
    from forensic_requests
    cross join hold
    where
        forensic_requests.source = 'requests'
        and forensic_requests.ts >= hold.scope."start"
        and forensic_requests.ts < hold.scope."end"
),

-- each logged address is matched once, not once per request
scope_clients as (
    select clients.client_ip
    from (select distinct client_ip from in_window) as clients
    cross join hold
    where list_bool_or(list_transform(
        coalesce(hold.scope.ips, []) || coalesce(hold.scope.cidrs, []),
        lambda target: client_matches(clients.client_ip, target)
    ))
),

in_scope as (
    select in_window.*
    from in_window
    cross join hold
    where
        in_window.client_ip in (select client_ip from scope_clients)
        or list_contains(coalesce(hold.scope.session_ids, []), in_window.session_id)
        or coalesce(list_bool_or(list_transform(hold.scope.paths, lambda g: in_window.path glob g)), false)
        or coalesce(list_bool_or(list_transform(
            hold.scope.user_agents, lambda ua: contains(lower(coalesce(in_window.user_agent, '')), lower(ua))
        )), false)
),

rows_of_hold as (
    select * from held
    union all by name
    select * from in_scope
),

ordered as (
    select
        hold.hold_id,
        hold.case_reference,
        rows_of_hold.client_ip,
        min(rows_of_hold.ts) over (partition by rows_of_hold.client_ip) as client_first_at,
        row_number() over (partition by rows_of_hold.client_ip order by rows_of_hold.ts, rows_of_hold.row_id)
            as request_number,
        rows_of_hold.ts,
        epoch(rows_of_hold.ts) - epoch(lag(rows_of_hold.ts) over (
            partition by rows_of_hold.client_ip order by rows_of_hold.ts, rows_of_hold.row_id
        )) as gap_seconds,
        rows_of_hold.source,
        rows_of_hold.site,
        rows_of_hold.method,
        rows_of_hold.path,
        rows_of_hold.query,
        rows_of_hold.status,
        rows_of_hold.bytes,
        rows_of_hold.session_id,
        rows_of_hold.user_agent,
        rows_of_hold.row_id
    from rows_of_hold
    cross join hold
),

final as (
    select * exclude (client_first_at)
    from ordered
    order by client_first_at, client_ip, request_number
)

select * from final;

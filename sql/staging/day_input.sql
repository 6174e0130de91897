-- What a local day's marts are built from, in two numbers: the requests of the day (requests/ and
-- held/ in the day's window, day_requests.sql) and the latest receive time among them. The nightly
-- compares them with the day's daily_traffic (count_requests, last_received_at): when both are
-- unchanged, no request was added or removed since the marts were built (the anonymiser only
-- rewrote, or moved to held/, rows they already counted) and the marts are kept as they are
-- (accesslake.analytics.freshness).
--
-- Grain: day_input: one row.

create or replace macro day_input() as table
    select count(*) as count_requests, max(received_at) as last_received_at
    from day_rows();

-- The report's selection: every report query reads a mart through `selected('<mart>')`,
-- which keeps the rows of the selected site and days. The selection comes from the
-- variables report_site (NULL: every site), report_start and report_end (days,
-- inclusive; NULL: unbounded), which the code sets with bound parameters.
--
-- Grain: the grain of the mart it reads.

create or replace temp macro selected(mart) as table
    select *
    from query_table(mart)
    where (getvariable('report_site') is null or site = getvariable('report_site'))
      and (getvariable('report_start') is null or date >= getvariable('report_start'))
      and (getvariable('report_end') is null or date <= getvariable('report_end'));

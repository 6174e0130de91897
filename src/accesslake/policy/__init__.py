"""The retention policy: the policy file and what anonymisation does to each column.

- :mod:`.settings`: the policy file, validated into a frozen :class:`Policy` (every key documented there);
- :mod:`.sites`: per-site settings (time zone, local or UTC days, own hosts);
- :mod:`.transforms`: deadlines and the anonymisation transform (rules A1-A3, T2, T3);
- :mod:`.scrub`: IP-like and host-like tokens in free text (rule A4).
"""

from __future__ import annotations

from accesslake.policy.scrub import IP_LIKE_PATTERN, scrub_reject_exprs, scrub_text_expr
from accesslake.policy.settings import HARD_LIMIT_HOURS, Policy, load_policy, policy_from_mapping
from accesslake.policy.sites import SiteSettings, site_settings
from accesslake.policy.transforms import PERSONAL_COLUMNS, anonymize_exprs, deadline_expr, due_mask

__all__ = ["HARD_LIMIT_HOURS", "IP_LIKE_PATTERN", "PERSONAL_COLUMNS", "Policy", "SiteSettings", "anonymize_exprs",
           "deadline_expr", "due_mask", "load_policy", "policy_from_mapping", "scrub_reject_exprs", "scrub_text_expr",
           "site_settings"]

"""The demo: realistic generated traffic run night by night through the pipeline.

- :mod:`.loggen`: the synthetic log generator (daily rhythm, sessions, bots, planted attacks);
- :mod:`.run`: ``accesslake demo``.
"""

from __future__ import annotations

from accesslake.demo.run import DemoSummary, run_demo

__all__ = ["DemoSummary", "run_demo"]

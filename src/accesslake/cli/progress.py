"""The terminal side of the library's progress hook (:data:`accesslake.config.Progress`).

:class:`TerminalProgress` is a context manager; inside it, the object is the hook
``progress(what, done, total)``: one line per kind of work (``what``) on stderr, a bar
when the total is known, a spinner and a count when it is not. The display is drawn
only while the work runs and removed at the end, so the command's result follows on a
clean screen. :meth:`accesslake.cli.output.Output.progress` uses it only when stderr is
a terminal and ``--json`` is not given.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, TextIO

from accesslake.cli.output import display

__all__ = ["TerminalProgress"]


class TerminalProgress:
    """A progress display on ``stream`` (a terminal) fed by the library's progress calls."""

    def __init__(self, stream: TextIO, *, force_terminal: bool | None = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        console = Console(file=stream, force_terminal=force_terminal, highlight=False, markup=False, emoji=False)
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(),
                                  MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=True)
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> TerminalProgress:
        self._progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._progress.stop()

    def __call__(self, what: str, done: int, total: int | None) -> None:
        what = display(what)
        task = self._tasks.get(what)
        if task is None:
            task = self._tasks[what] = self._progress.add_task(what, total=total)
        self._progress.update(task, completed=done, total=total)

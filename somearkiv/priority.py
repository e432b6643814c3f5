"""Background work at a lower CPU priority than the browser's.

A capture is timed by its page (loads, the quiet it must keep, its bounds), and on one machine
it shares the cores with what files the captures before it: the PDF/A conversion, the embedded
S3 server. That work has no one waiting on it by the second, so it runs at a nice value of
BACKGROUND_NICE above the process that starts it: it takes the cores the browser leaves idle,
and gives them back when a page needs them. It still gets its share when the browser is busy
throughout (at nice 10 about a tenth of a core's weight per busy thread), and every core when
the browser waits. Measured on the sample pages (8 accounts at c=1, bare Playwright (B) and the
pipeline with and without it taking turns, 6 rounds): the pipeline's time per capture 1.27× B's
with it and 1.31× without, less in every round. The flow's own process (the browser's client,
the filing) and Prefect's server (the archivists' UI) keep their priority.
"""

from __future__ import annotations

import os
import shutil

__all__ = ["BACKGROUND_NICE", "lower_this_process", "niced"]

BACKGROUND_NICE = 10


def niced(command: list[str]) -> list[str]:
    """*command*, started at BACKGROUND_NICE above this process (coreutils nice, which then execs it: the
    process id stays the command's); as it is where there is no nice."""
    tool = shutil.which("nice")
    return [tool, "-n", str(BACKGROUND_NICE), *command] if tool else command


def lower_this_process() -> None:
    """This process (and the threads it starts from now on) at BACKGROUND_NICE above where it was."""
    try:
        os.nice(BACKGROUND_NICE)
    except OSError:
        pass  # a platform without nice: the work runs at the priority it has

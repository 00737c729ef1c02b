"""The one error type users see: a single line naming the problem and the fix, exit code 2."""

from __future__ import annotations


class ZooError(Exception):
    """A user-facing error (bad input, missing file, unknown name).

    The CLI prints ``zoo: error: <message>`` on one line and exits with code 2; library
    callers can catch it. Messages name the offending thing and how to fix it.
    """

    exit_code = 2

    def __init__(self, message: str):
        # One line, always: a multi-line message would read as a traceback in a terminal.
        super().__init__(" ".join(str(message).split()))

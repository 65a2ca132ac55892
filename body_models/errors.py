"""The one error type the project raises for problems a user can fix."""
from __future__ import annotations


class SynthError(Exception):
    """A problem with the user's input or environment, with an actionable message.

    The CLI catches this once, prints its message on one line and exits non-zero.
    Messages say what is wrong, where, and what to do about it.
    """

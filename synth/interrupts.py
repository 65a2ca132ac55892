"""Ctrl-C that a library cannot swallow.

Python turns SIGINT into KeyboardInterrupt wherever the main thread happens to be; raised
inside a `__del__` or a ctypes callback it is printed as "Exception ignored" (with a
traceback) and lost, and a build went on as if nothing had been asked. Within
`recorded_interrupts()` Ctrl-C is recorded first; it raises at once unless a `__del__` is
running (then it waits), and `raise_if_interrupted()` raises it at the next safe point (the
build calls it after every shard), so one lost or deferred costs at most the shard in hand.
"""
from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_requested = threading.Event()


def _record_and_raise(signum, frame) -> None:
    _requested.set()
    if not _in_finaliser(frame):
        raise KeyboardInterrupt


def _in_finaliser(frame) -> bool:
    while frame is not None:
        if frame.f_code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False


@contextmanager
def recorded_interrupts() -> Iterator[None]:
    """Within the block, Ctrl-C is recorded and raises KeyboardInterrupt as Python's own
    handler does, except inside a `__del__`. A no-op outside the main thread or where the
    caller has its own handler."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    _requested.clear()
    signal.signal(signal.SIGINT, _record_and_raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _requested.clear()


def raise_if_interrupted() -> None:
    """KeyboardInterrupt if Ctrl-C was pressed inside `recorded_interrupts()` (even if that
    first KeyboardInterrupt was swallowed on its way up)."""
    if _requested.is_set():
        raise KeyboardInterrupt

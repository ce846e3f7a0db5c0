"""What every command module of the CLI shares: the user-error type, the parsers of option
values, the quieting of Python-side log noise, and the redirect that keeps stdout for
machine-readable output."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import sys
import warnings
from collections.abc import Iterator

from bnnzoo.converters.lce import check_int8_range


class CommandError(Exception):
    """A user error: printed as one line, exit status 2."""


def parse_shape(text: str) -> tuple[int, int, int]:
    """``"32,32,3"`` → ``(32, 32, 3)``."""
    parts = text.replace("x", ",").split(",")
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise CommandError(
            f"--input-shape expects three positive integers H,W,C, e.g. 224,224,3. Got {text!r}."
        )
    return shape


def parse_range(text: str) -> tuple[float, float]:
    """``"-3,3"`` → ``(-3.0, 3.0)``: an int8 fallback range with MIN < 0 < MAX."""
    try:
        return check_int8_range(text.split(","))
    except ValueError:
        raise CommandError(
            f"--int8-range expects MIN,MAX with MIN < 0 < MAX, e.g. --int8-range=-3,3 (with '=', "
            f"since the value starts with '-'). Got {text!r}."
        ) from None


# Python loggers whose warnings a command's user cannot act on: TensorFlow's (AutoGraph's "could
# not transform" on larq's functions among them) and absl's, through which Keras warns ("Compiled
# the loaded model, but the compiled metrics have yet to be built", skipped optimizer variables)
NOISY_LOGGERS = ("tensorflow", "absl")


@contextlib.contextmanager
def quiet_python_logs(enabled: bool = True) -> Iterator[None]:
    """While running a command: only errors from ``NOISY_LOGGERS``, and no Python warnings but
    bnnzoo's own; everything restored afterwards. (TensorFlow's C++ logs are quieted before it is
    imported: ``bnnzoo._environment.quiet_native_logs``.)"""
    if not enabled:
        yield
        return
    loggers = [logging.getLogger(name) for name in NOISY_LOGGERS]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore")
        warnings.filterwarnings("default", module=r"bnnzoo(\.|$)")
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels):
                logger.setLevel(level)


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send everything written to stdout, by Python or by native libraries (converters,
    runtimes), to stderr, so that stdout carries only what is printed afterwards."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no file descriptor 1 (embedded); Python's stdout is still redirected
        saved = None
    if saved is not None:
        os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        if saved is not None:
            flush_c_streams()  # what C's stdio still buffers belongs to stderr too
            os.dup2(saved, 1)
            os.close(saved)


def flush_c_streams() -> None:
    """Flush the C library's stdio buffers (of native code), where there is a C library."""
    with contextlib.suppress(OSError, AttributeError):  # no C library to ask (not POSIX)
        ctypes.CDLL(None).fflush(None)

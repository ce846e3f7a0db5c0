"""What every command module of the CLI shares: the user-error types, the argument parser that
reports in one line, the parsers of option values, the quieting of log noise (Python's and
native code's), and the redirect that keeps stdout for machine-readable output."""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import logging
import os
import re
import sys
import threading
import warnings
from collections.abc import Iterator

from bnnzoo.converters.lce import check_int8_range


class CommandError(Exception):
    """A user error: printed as one line, exit status 2."""


class UsageError(Exception):
    """A command line argparse refused; its message is the whole line to print."""


class Parser(argparse.ArgumentParser):
    """argparse's parser, whose errors (an unknown option, a value of the wrong type, a missing
    argument) are one line that points to ``--help``, raised as ``UsageError`` instead of a
    usage block and ``SystemExit``."""

    def error(self, message: str):
        raise UsageError(f"{self.prog}: error: {message}. See `{self.prog} --help`.")


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


# what native code writes to stderr whatever TF_CPP_MIN_LOG_LEVEL says: absl's C++ log lines
# (TensorFlow's MLIR converter: "W0000 00:00:1796036686.258561 13085 tf_tfl_flatbuffer_helpers.cc
# :390] Ignored output_format.") with absl's notice before them, and TFLite's "INFO: Created
# TensorFlow Lite XNNPACK delegate for CPU."; TensorFlow's own info and warning lines too
NATIVE_NOISE = re.compile(
    rb"[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] "
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|INFO: "
    rb"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IW] "
)


@contextlib.contextmanager
def drop_native_log_lines(enabled: bool = True) -> Iterator[None]:
    """While running a command: the lines written to the process's stderr (file descriptor 2)
    pass through a filter that drops ``NATIVE_NOISE`` and keeps everything else (bnnzoo's
    messages, errors, a native crash report) in order."""
    if not enabled:
        yield
        return
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no file descriptor 2 (embedded): nothing native to filter
        yield
        return
    read_end, write_end = os.pipe()
    forward = threading.Thread(target=_forward_lines, args=(read_end, saved), daemon=True)
    forward.start()
    os.dup2(write_end, 2)
    os.close(write_end)
    try:
        yield
    finally:
        sys.stderr.flush()
        flush_c_streams()
        os.dup2(saved, 2)  # closes the pipe's last write end: the forwarder reads to its end
        forward.join(timeout=10)
        os.close(saved)


def _forward_lines(read_end: int, out: int) -> None:
    with open(read_end, "rb") as pipe, contextlib.suppress(OSError):
        for line in pipe:
            if not NATIVE_NOISE.match(line):
                os.write(out, line)


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

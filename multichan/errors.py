"""The MultichanError tree: every expected failure, each carrying its documented exit code.

The CLI turns these into one "Error: ..." line on stderr and ``sys.exit(code)``; the engine
raises them and never prints.
"""

from __future__ import annotations

from collections.abc import Iterable

OK = 0
UNEXPECTED = 1
USAGE = 2
CONFIG = 3
REJECTED = 4
CHANNEL_FAILED = 5
RETRIES_EXHAUSTED = 6
LOCKED = 7
INTERRUPTED = 130

EXIT_CODES: dict[int, str] = {
    OK: "success",
    UNEXPECTED: "unexpected error (a bug: rerun with --traceback and report it)",
    USAGE: "usage error (bad option or argument, or an input file that cannot be used)",
    CONFIG: "configuration or template error",
    REJECTED: "some items were rejected or refused (the rest were processed)",
    CHANNEL_FAILED: "a channel failed (authentication, unreachable, upload failed)",
    RETRIES_EXHAUSTED: "still failing after retries",
    LOCKED: "another multichan run holds the workspace lock",
    INTERRUPTED: "interrupted",
}


# how bad an outcome is, worst last: a config error in one channel is never hidden by
# rejections in another, and a channel failure outranks both
SEVERITY = (OK, REJECTED, CONFIG, CHANNEL_FAILED, RETRIES_EXHAUSTED, LOCKED, UNEXPECTED)


def worst(codes: Iterable[int]) -> int:
    """The exit code of a run whose parts ended with ``codes`` (ranked, not the largest)."""
    rank = {code: n for n, code in enumerate(SEVERITY)}
    return max(codes, key=lambda c: rank.get(c, len(SEVERITY)), default=OK)


def did_you_mean(word: object, choices: Iterable[object], cutoff: float = 0.6) -> str:
    """``"; did you mean 'output'?"`` for the closest of ``choices``, or ``""``."""
    import difflib

    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=cutoff)
    return f"; did you mean {close[0]!r}?" if close else ""


class MultichanError(Exception):
    """Base of all expected errors; ``exit_code`` says how the process ends."""

    exit_code = UNEXPECTED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(MultichanError):
    exit_code = USAGE


class WorkspaceError(MultichanError):
    """No workspace, or one that cannot be created or opened."""

    exit_code = CONFIG


class ConfigError(MultichanError):
    """channels.yaml is wrong; ``problems`` lists every problem found, each with file:line."""

    exit_code = CONFIG

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = problems or []
        if self.problems:
            message = message + "\n" + "\n".join(f"  {p}" for p in self.problems)
        super().__init__(message)


class TemplateError(MultichanError):
    """A feed template failed to compile or render; the message names file and line."""

    exit_code = CONFIG


class InputError(MultichanError):
    """A whole input file is unusable (wrong format, wrong encoding, unreadable): nothing in
    it was used. Exit 2, so a script can tell it from rows rejected (4)."""

    exit_code = USAGE


class ItemsRejected(MultichanError):
    """Some items were rejected or refused; the others were processed."""

    exit_code = REJECTED


class NotFound(MultichanError):
    """A SKU, channel or location named on the command line does not exist."""

    exit_code = USAGE


class ChannelFailed(MultichanError):
    exit_code = CHANNEL_FAILED


class RetriesExhausted(MultichanError):
    exit_code = RETRIES_EXHAUSTED


class Locked(MultichanError):
    exit_code = LOCKED

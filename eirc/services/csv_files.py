"""What the CSV imports (billing data, residents) share: a refused row, the report's tally of them, and
opening the file with one-line errors for the whole file."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

MAX_REFUSED_DETAILS = 100_000
"""Refused rows reported one by one; beyond this only their number is kept (a file of garbage must not
exhaust memory). A report's ``refused_count`` is always exact."""


@dataclass(frozen=True, slots=True)
class RefusedRow:
    line: int
    reason: str


class Refused(Exception):
    """A row is refused, for `reason`; the rest of the file goes on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Refusals:
    """Mixed into an import's report dataclass, which declares the two fields below."""

    refused: list[RefusedRow]
    refused_count: int

    def refuse(self, line: int, reason: str) -> None:
        self.refused_count += 1
        if len(self.refused) < MAX_REFUSED_DETAILS:
            self.refused.append(RefusedRow(line, reason))


def unreadable(path: Path, exc: OSError) -> str:
    return f"{path}: cannot be read ({exc.strerror or exc})"


def open_csv(path: Path, error: type[Exception]) -> tuple[io.BufferedReader, int]:
    """The file opened for reading bytes (the caller closes it) and its size; else `error` with one line."""
    try:
        if path.is_dir():
            raise error(f"{path} is a directory, not a CSV file")
        raw = open(path, "rb")  # closed by the caller
    except error:
        raise
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except OSError as exc:
        raise error(unreadable(path, exc)) from None
    try:
        size = os.fstat(raw.fileno()).st_size
    except OSError as exc:
        raw.close()
        raise error(unreadable(path, exc)) from None
    return raw, size  # type: ignore[return-value]

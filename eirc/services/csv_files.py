"""What the CSV imports (billing data, residents) share: opening and checking the file, reading its records,
a refused row and the report's tally of them, and the pipeline that reads the next batch while this one is
written.

A file is refused as a whole (one line, nothing written) when it cannot be opened, when its first block is
not UTF-8 text, or when its header is not the expected one. After that first block, bytes that are not
UTF-8 only refuse the row that holds them: the rest of the file is still imported.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import csv
import io
import os
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

MAX_REFUSED_DETAILS = 100_000
"""Refused rows reported one by one; beyond this only their number is kept (a file of garbage must not
exhaust memory). A report's ``refused_count`` is always exact."""

NOT_UTF8 = "the line is not valid UTF-8 text"
MAX_ACCOUNT_LENGTH = 32

_SNIFF_BYTES = 64 * 1024
_ACCOUNT = re.compile(r"[0-9A-Za-zА-Яа-яЁё-]+")
_SURROGATE = re.compile("[\udc80-\udcff]")  # what `surrogateescape` makes of a byte that is not UTF-8

B = TypeVar("B")


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


def show(value: str, limit: int = 40) -> str:
    """A value quoted for a refusal reason, shortened; bytes that were not UTF-8 shown as �."""
    value = _SURROGATE.sub("\ufffd", value)
    return repr(value if len(value) <= limit else value[: limit - 1] + "…")


def check_account_number(account: str) -> str:
    """A billing account number as the billing centre writes them, or `Refused`."""
    if not account:
        raise Refused("account_number is empty")
    if len(account) > MAX_ACCOUNT_LENGTH:
        raise Refused(f"account_number is longer than {MAX_ACCOUNT_LENGTH} characters")
    if _ACCOUNT.fullmatch(account) is None:
        raise Refused(f"account_number may hold only digits, letters and dashes: {show(account)}")
    return account


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


def _not_text(head: bytes, header: str) -> str | None:
    """Why the start of a file is not UTF-8 text, or None."""
    if not head:
        return f"it is empty; expected the header {header}"
    if b"\x00" in head:
        return "it holds binary data"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head, final=False)  # a character cut by the end of the sample is fine
    except UnicodeDecodeError as exc:
        return f"invalid UTF-8 at byte {exc.start}; save it as UTF-8"
    return None


class CsvFile:
    """A CSV file with a known header, opened and checked: `records()` gives its data records.

    Opening raises `error` (one line) for a file that cannot be imported at all: missing, a directory, not
    UTF-8 text in its first block, empty, or with another header. `close()` it when done.
    """

    def __init__(
        self,
        path: Path,
        header: tuple[str, ...],
        error: type[Exception],
        *,
        strict: bool = False,
        not_csv: str = "cannot be read as CSV ({})",
    ) -> None:
        """`strict`: the csv module's (a quote where none may be refuses the record); `not_csv`: the reason
        given for a record that is not CSV, `{}` standing for what the csv module said."""
        self.path = path
        self.header = ",".join(header)
        self._not_csv = not_csv
        self._raw, self.size = open_csv(path, error)
        try:
            head = self._raw.read(_SNIFF_BYTES)
            self._raw.seek(0)
        except OSError as exc:
            self._raw.close()
            raise error(unreadable(path, exc)) from None
        problem = _not_text(head, self.header)
        if problem:
            self._raw.close()
            if not head:
                raise error(f"{path} is empty; expected the header {self.header}")
            raise error(f"{path} is not a UTF-8 CSV text file ({problem})")
        # Kept referenced: a collected TextIOWrapper would close the file under the reader.
        self._text = io.TextIOWrapper(self._raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
        self._csv = csv.reader(self._text, strict=strict)
        try:
            found = next(self._csv)
        except StopIteration:
            self.close()
            raise error(f"{path} is empty; expected the header {self.header}") from None
        except csv.Error as exc:
            self.close()
            raise error(f"{path}: the header cannot be read as CSV ({exc})") from None
        if tuple(name.strip().lower() for name in found) != header:
            self.close()
            shown = _SURROGATE.sub("\ufffd", ",".join(found))
            shown = shown if len(shown) <= 80 else shown[:79] + "…"
            raise error(f"{path}: the header must be {self.header!r}, found {shown!r}")

    def records(self) -> Iterator[tuple[int, list[str] | str]]:
        """``(line, fields)`` for each data record, or ``(line, refusal reason)`` for one that cannot be read
        (not CSV, not UTF-8). A record is numbered by its first line; empty lines are skipped."""
        reader = self._csv
        last = reader.line_num
        while True:
            line = last + 1  # a quoted field may span lines: the record is reported by its first
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                last = reader.line_num
                yield line, self._not_csv.format(exc)
                continue
            last = reader.line_num
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue  # an empty line is not a row
            if any(map(_SURROGATE.search, fields)):
                yield line, NOT_UTF8
                continue
            yield line, fields

    def position(self) -> int:
        """Bytes of the file read so far (for a progress bar)."""
        try:
            return self._raw.tell()
        except (OSError, ValueError):
            return self.size

    def close(self) -> None:
        self._raw.close()


async def pipelined(read: Callable[[], B | None], write: Callable[[B], Awaitable[None]]) -> None:
    """`write` each batch that `read()` returns until it returns None, reading the next batch in a worker
    thread while this one is written: validating rows (Python) and storing them (the database server)
    overlap. An error of `read` comes out after the batch being written is done."""
    batch = await asyncio.to_thread(read)
    while batch is not None:
        upcoming = asyncio.ensure_future(asyncio.to_thread(read))
        try:
            await write(batch)
        except BaseException:
            with contextlib.suppress(BaseException):  # let the thread finish with the file
                await upcoming
            raise
        batch = await upcoming

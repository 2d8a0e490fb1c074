"""The shape of the ids eirc gives its rows (storage/tables.py `new_id`: uuid4 hex)."""

from __future__ import annotations

import re

ROW_ID = re.compile(r"[0-9a-f]{32}")


def is_row_id(text: str) -> bool:
    return bool(ROW_ID.fullmatch(text))

"""Settings that cannot be used (SPEC §10, CONTRACT §4): every `eirc` command — the gateway, the worker, the
migrations, the support commands — refuses with exit 1 and one line on stderr that names the variable,
never a traceback; a secret's value is never echoed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from eirc.settings import Settings, describe_invalid

EIRC = str(Path(sys.executable).parent / "eirc")
COMMANDS = [
    ["serve", "--port", "1"],
    ["worker"],
    ["db", "upgrade"],
    ["db", "prune", "--dry-run"],
    ["users", "find", "+79161234567"],
    ["billing", "show", "5012345678"],
    ["deliveries", "list"],
    ["requests", "list"],
]


def _run(tmp_path: Path, args: list[str], **settings: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EIRC_")}
    env.update(EIRC_DATABASE_URL=f"sqlite:///{tmp_path / 'eirc.db'}", NO_COLOR="1", COLUMNS="300", **settings)
    return subprocess.run(  # in tmp_path: no .env of the working directory is read
        [EIRC, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )


def _one_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert result.stdout == ""
    return line


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_missing_secret_outside_development_is_one_line(tmp_path, args):
    line = _one_line(_run(tmp_path, args, EIRC_ENV="production"))
    assert line.startswith("error: configuration: EIRC_SECRET_KEY is not set")
    assert not (tmp_path / "eirc.db").exists()  # refused before anything was opened


@pytest.mark.parametrize("args", [COMMANDS[0], COMMANDS[4]], ids=" ".join)
def test_a_value_that_does_not_parse_is_named_with_what_was_given(tmp_path, args):
    line = _one_line(_run(tmp_path, args, EIRC_SMTP_PORT="abc", EIRC_CODE_LENGTH="99"))
    assert line.startswith("error: configuration: ")
    assert "EIRC_SMTP_PORT: Input should be a valid integer" in line and "(got 'abc')" in line
    assert "EIRC_CODE_LENGTH: Input should be less than or equal to 10 (got '99')" in line


def test_a_secret_value_is_never_echoed():
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, secret_key=["s3cr3t-value"], sms_token=12345)  # type: ignore[call-arg,arg-type]
    line = describe_invalid(refused.value)
    assert "EIRC_SECRET_KEY: Input should be a valid string" in line
    assert "EIRC_SMS_TOKEN: Input should be a valid string" in line
    assert "s3cr3t" not in line and "12345" not in line


def test_usable_settings_still_run_the_command(tmp_path):
    result = _run(tmp_path, ["schema", "export"], EIRC_ENV="production", EIRC_SECRET_KEY="k" * 40)
    assert result.returncode == 0 and "type Query" in result.stdout

"""hash_threads (bootstrap.py): EIRC_HASH_THREADS when set, else the CPUs this process may use shared out
among the gateway processes of `eirc serve --workers N` (EIRC_SERVE_PROCESSES), at least one."""

from __future__ import annotations

import os

import pytest

from eirc import bootstrap
from eirc.bootstrap import GATEWAY_PROCESSES_ENV, hash_threads
from tests.conftest import make_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EIRC_HASH_THREADS", raising=False)
    monkeypatch.delenv(GATEWAY_PROCESSES_ENV, raising=False)


def cpus(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(n)), raising=False)


def settings(**overrides):
    return make_settings("sqlite:///x.db", **overrides)


def test_the_env_var_name_is_the_one_serve_sets():
    assert GATEWAY_PROCESSES_ENV == "EIRC_SERVE_PROCESSES"


@pytest.mark.parametrize(
    ("available", "processes", "expected"),
    [
        (8, None, 8),  # one process (not set): all the CPUs it may use
        (8, "1", 8),
        (8, "2", 4),
        (8, "3", 2),  # rounded down
        (2, "4", 1),  # at least one
        (1, "8", 1),
        (16, "", 16),  # empty: one process
        (6, "0", 6),  # nonsense: one process
    ],
)
def test_cpus_shared_among_gateway_processes(monkeypatch, available, processes, expected):
    cpus(monkeypatch, available)
    if processes is not None:
        monkeypatch.setenv(GATEWAY_PROCESSES_ENV, processes)
    assert hash_threads(settings()) == expected


def test_affinity_not_the_machine_counts(monkeypatch):
    cpus(monkeypatch, 3)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert hash_threads(settings()) == 3


def test_the_setting_wins(monkeypatch):
    cpus(monkeypatch, 8)
    monkeypatch.setenv(GATEWAY_PROCESSES_ENV, "4")
    assert hash_threads(settings(hash_threads=5)) == 5
    assert hash_threads(settings(hash_threads=32)) == 32  # more than the CPUs: it is asked for


def test_the_setting_from_the_environment_wins(monkeypatch):
    cpus(monkeypatch, 8)
    monkeypatch.setenv(GATEWAY_PROCESSES_ENV, "2")
    monkeypatch.setenv("EIRC_HASH_THREADS", "3")
    assert settings().hash_threads == 3
    assert hash_threads(settings()) == 3
    monkeypatch.setenv("EIRC_HASH_THREADS", "0")  # 0 means: the CPUs
    assert hash_threads(settings()) == 4


def test_without_affinity_the_cpu_count(monkeypatch):
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    monkeypatch.setenv(GATEWAY_PROCESSES_ENV, "4")
    assert hash_threads(settings()) == 1
    monkeypatch.setenv(GATEWAY_PROCESSES_ENV, "2")
    assert hash_threads(settings()) == 3
    monkeypatch.setattr(os, "cpu_count", lambda: None)  # unknown: one
    assert hash_threads(settings()) == 1


def test_the_container_sizes_its_hasher_with_it(monkeypatch):
    cpus(monkeypatch, 8)
    monkeypatch.setenv(GATEWAY_PROCESSES_ENV, "4")
    seen: list[int] = []

    class Hasher:
        def __init__(self, max_threads: int) -> None:
            seen.append(max_threads)

    monkeypatch.setattr(bootstrap, "PasswordHasher", Hasher)
    monkeypatch.setattr(bootstrap, "make_engine", lambda url: None)
    monkeypatch.setattr(bootstrap, "UnitOfWorkFactory", lambda engine: type("U", (), {"on_commit": []})())
    bootstrap.build_container(settings())
    bootstrap.build_container(settings(hash_threads=7))
    assert seen == [2, 7]


def test_a_gateway_process_count_that_is_no_number_counts_as_one(monkeypatch):
    from eirc.bootstrap import GATEWAY_PROCESSES_ENV, hash_threads
    from eirc.settings import Settings

    monkeypatch.setenv(GATEWAY_PROCESSES_ENV, "two")
    monkeypatch.setattr("os.sched_getaffinity", lambda _pid: {0, 1, 2}, raising=False)
    settings = Settings(_env_file=None, env="test", database_url="sqlite:///x.db", hash_threads=0)
    assert hash_threads(settings) == 3

"""`eirc gosuslugi check` (CONTRACT §4) as a support engineer runs it: the ЕСИА configuration's certificate
hash, subject and expiry, ЕСИА's token certificates and a signed authorization URL (which OpenSSL verifies);
exit 1 with one line for anything unusable; the OpenID Connect configuration's discovery."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from eirc.clock import FrozenClock
from eirc.identity.esia import EsiaClient, EsiaUnavailable
from eirc.settings import Settings
from tests.esia_provider import (
    CLIENT_ID,
    Material,
    certificate_hash,
    esia_material_fixture,  # noqa: F401  (the `esia_material` fixture)
    openssl,
    openssl_verifies,
    public_key_pem,
)
from tests.oidc_provider import CLIENT_ID as OIDC_CLIENT_ID
from tests.oidc_provider import LocalOidcProvider

EIRC = str(Path(sys.executable).parent / "eirc")


def run(tmp_path: Path, *args: str, **settings: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EIRC_")}
    env.update(EIRC_DATABASE_URL=f"sqlite:///{tmp_path / 'eirc.db'}", NO_COLOR="1", COLUMNS="300", **settings)
    return subprocess.run(
        [EIRC, "gosuslugi", "check", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def esia_env(material: Material, **changes: str) -> dict[str, str]:
    env = {
        "EIRC_ESIA_URL": "https://esia-portal1.test.gosuslugi.ru",
        "EIRC_ESIA_CLIENT_ID": CLIENT_ID,
        "EIRC_ESIA_KEY_FILE": str(material.client_key),
        "EIRC_ESIA_CERT_FILE": str(material.client_cert),
        "EIRC_ESIA_TOKEN_CERT_FILE": f"{material.esia_rsa_cert},{material.esia_gost_cert}",
        "EIRC_PUBLIC_URL": "https://lk.example.ru",
    }
    env.update(changes)
    return env


def one_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    return line


def test_a_usable_esia_configuration(tmp_path: Path, esia_material: Material) -> None:
    result = run(tmp_path, "--json", **esia_env(esia_material))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["protocol"] == "ЕСИА" and report["signer"] == "file"
    assert report["certificate_hash"] == certificate_hash(esia_material.client_cert)
    assert report["certificate_subject"] == "CN=EIRC01, O=МосОблЕИРЦ"
    assert report["certificate_not_after"] > "2026"
    assert report["redirect_uri"] == "https://lk.example.ru/auth/gosuslugi/callback"
    assert [c["algorithm"] for c in report["token_certificates"]] == ["RS256", "GOST3410_2012_256"]
    # The sample URL is really signed: OpenSSL's GOST engine verifies its client_secret.
    params = {k: v[0] for k, v in parse_qs(urlsplit(report["authorization_url"]).query).items()}
    text = (
        params["client_id"] + params["scope"] + params["timestamp"] + params["state"] + params["redirect_uri"]
    )
    public_key = public_key_pem(esia_material.client_cert, esia_material.directory)
    assert openssl_verifies(public_key, text.encode(), base64.urlsafe_b64decode(params["client_secret"]))

    table = run(tmp_path, **esia_env(esia_material))
    assert table.returncode == 0 and report["certificate_hash"] in table.stdout
    assert "https://esia-portal1.test.gosuslugi.ru/aas/oauth2/v2/ac?" in table.stdout


@pytest.mark.parametrize("signer", ["openssl", "http-not-answering"])
def test_the_other_signers_are_checked_by_a_signature(
    tmp_path: Path, esia_material: Material, signer: str
) -> None:
    if signer == "openssl":
        result = run(tmp_path, **esia_env(esia_material, EIRC_ESIA_SIGNER="openssl"))
        assert result.returncode == 0, result.stderr
        mismatch = run(
            tmp_path,
            **esia_env(
                esia_material, EIRC_ESIA_SIGNER="openssl", EIRC_ESIA_KEY_FILE=str(esia_material.other_key)
            ),
        )
        assert "the openssl signer's signature does not verify against EIRC_ESIA_CERT_FILE" in one_line(
            mismatch
        )
    else:
        result = run(
            tmp_path,
            **esia_env(
                esia_material, EIRC_ESIA_SIGNER="http", EIRC_ESIA_SIGNER_URL="http://127.0.0.1:9/sign"
            ),
        )
        assert one_line(result) == "error: signing service: ConnectError"


def expired_certificate(directory: Path) -> tuple[Path, Path]:
    """A GOST certificate valid in 2020 only (OpenSSL's `ca` sets the dates)."""
    (directory / "index.txt").write_text("")
    (directory / "serial").write_text("01\n")
    (directory / "ca.cnf").write_text(
        "[ca]\ndefault_ca=d\n[d]\ndir=.\ndatabase=./index.txt\nnew_certs_dir=.\nserial=./serial\n"
        "default_md=md_gost12_256\npolicy=p\nunique_subject=no\n[p]\ncommonName=supplied\n"
    )
    key, csr, cert = directory / "expired.key.pem", directory / "expired.csr", directory / "expired.cert.pem"
    openssl(
        "req",
        "-engine",
        "gost",
        "-newkey",
        "gost2012_256",
        "-pkeyopt",
        "paramset:A",
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(csr),
        "-subj",
        "/CN=expired",
    )
    subprocess.run(
        ["openssl", "ca", "-engine", "gost", "-batch", "-config", "ca.cnf", "-selfsign", "-keyfile", str(key), "-in", str(csr),
         "-out", str(cert), "-startdate", "20200101000000Z", "-enddate", "20210101000000Z"],
        cwd=directory, capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    return key, cert


def test_refusals_are_one_line(tmp_path: Path, esia_material: Material) -> None:
    key, cert = expired_certificate(tmp_path)
    expired = run(
        tmp_path, **esia_env(esia_material, EIRC_ESIA_KEY_FILE=str(key), EIRC_ESIA_CERT_FILE=str(cert))
    )
    assert one_line(expired) == "error: EIRC_ESIA_CERT_FILE: the certificate expired on 2021-01-01"

    mismatch = run(tmp_path, **esia_env(esia_material, EIRC_ESIA_KEY_FILE=str(esia_material.other_key)))
    assert (
        one_line(mismatch)
        == "error: EIRC_ESIA_KEY_FILE does not match EIRC_ESIA_CERT_FILE (another key pair)"
    )

    missing = run(tmp_path, **esia_env(esia_material, EIRC_ESIA_CERT_FILE=str(tmp_path / "nowhere.pem")))
    assert one_line(missing).startswith("error: EIRC_ESIA_CERT_FILE: cannot read ")

    (tmp_path / "garbage.pem").write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    garbage = run(
        tmp_path, **esia_env(esia_material, EIRC_ESIA_TOKEN_CERT_FILE=str(tmp_path / "garbage.pem"))
    )
    assert one_line(garbage).startswith("error: EIRC_ESIA_TOKEN_CERT_FILE: ")

    rsa_as_client = run(
        tmp_path, **esia_env(esia_material, EIRC_ESIA_CERT_FILE=str(esia_material.esia_rsa_cert))
    )
    assert "not GOST R 34.10-2012" in one_line(rsa_as_client)

    nothing = run(tmp_path)
    assert one_line(nothing) == (
        "error: Госуслуги is not configured: set EIRC_ESIA_URL (ЕСИА) or EIRC_OIDC_ISSUER (OpenID Connect)"
    )

    both = run(tmp_path, **esia_env(esia_material, EIRC_OIDC_ISSUER="https://broker.example"))
    assert one_line(both).startswith("error: configuration: EIRC_ESIA_URL and EIRC_OIDC_ISSUER are both set")

    incomplete = run(tmp_path, **esia_env(esia_material, EIRC_ESIA_TOKEN_CERT_FILE=""))
    assert one_line(incomplete) == (
        "error: configuration: EIRC_ESIA_URL is set, EIRC_ESIA_TOKEN_CERT_FILE not: ЕСИА needs them"
    )


async def test_a_certificate_past_its_expiry_by_the_clock(esia_material: Material) -> None:
    settings = Settings(
        _env_file=None, **{k.removeprefix("EIRC_").lower(): v for k, v in esia_env(esia_material).items()}
    )  # type: ignore[call-arg]
    client = EsiaClient.from_settings(
        settings, FrozenClock(), redirect_uri="https://lk.example.ru/auth/gosuslugi/callback"
    )
    client.clock = FrozenClock(client.certificate.not_before - timedelta(seconds=1))
    with pytest.raises(EsiaUnavailable, match="the certificate is valid only from"):
        await client.check()
    client.clock = FrozenClock(client.certificate.not_before + timedelta(days=1))
    assert (await client.check())["certificate_hash"] == client.certificate_hash
    client.clock = FrozenClock(client.certificate.not_after)
    with pytest.raises(EsiaUnavailable, match="the certificate expired on"):
        await client.check()


def test_every_token_certificate_expired(tmp_path: Path, esia_material: Material) -> None:
    _key, cert = expired_certificate(tmp_path)
    result = run(tmp_path, **esia_env(esia_material, EIRC_ESIA_TOKEN_CERT_FILE=str(cert)))
    assert one_line(result) == "error: EIRC_ESIA_TOKEN_CERT_FILE: every certificate in it has expired"
    some = run(
        tmp_path,
        "--json",
        **esia_env(esia_material, EIRC_ESIA_TOKEN_CERT_FILE=f"{cert},{esia_material.esia_rsa_cert}"),
    )
    assert some.returncode == 0, some.stderr
    assert [c["expired"] for c in json.loads(some.stdout)["token_certificates"]] == [True, False]


# --- OpenID Connect ---------------------------------------------------------------------------------------------
@pytest.fixture
def oidc() -> Iterator[LocalOidcProvider]:
    provider = LocalOidcProvider()
    try:
        yield provider
    finally:
        provider.down()


def test_an_oidc_configuration_is_checked_by_its_discovery(tmp_path: Path, oidc: LocalOidcProvider) -> None:
    env = {
        "EIRC_OIDC_ISSUER": oidc.issuer,
        "EIRC_OIDC_CLIENT_ID": OIDC_CLIENT_ID,
        "EIRC_OIDC_CLIENT_SECRET": "x",
    }
    result = run(tmp_path, "--json", **env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["protocol"] == "OpenID Connect" and report["issuer"] == oidc.issuer
    assert report["authorization_url"].startswith(oidc.issuer + "/authorize?")
    oidc.discovery_mode = "wrong_issuer"
    assert one_line(run(tmp_path, **env)) == "error: discovery: issuer differs from EIRC_OIDC_ISSUER"
    assert one_line(run(tmp_path, EIRC_OIDC_ISSUER=oidc.issuer)) == (
        "error: EIRC_OIDC_ISSUER is set but EIRC_OIDC_CLIENT_ID is not"
    )

"""The web face's basics over HTTP (issue 3): health check, the two root queries, GraphiQL in a browser."""

from __future__ import annotations

from eirc.services.billing_import import import_billing_csv


async def test_healthz(http):
    response = await http.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_billing_periods_after_an_import(container, gql, tmp_path):
    path = tmp_path / "bills.csv"
    path.write_text(
        "account_number,period,amount_due,address\n"
        + "".join(
            f'5001,{period},100.00,"г.Москва, ул.Вяземская, д.34, к.2, кв.90"\n'
            for period in ("2025-09", "2025-10", "2025-11")
        ),
        encoding="utf-8",
    )
    report = await import_billing_csv(container.uow, container.clock, path)
    assert report.added == 3
    data = await gql("{ billingPeriods { value label } }")
    assert data["billingPeriods"] == [
        {"value": "2025-11", "label": "ноябрь 2025"},
        {"value": "2025-10", "label": "октябрь 2025"},
        {"value": "2025-09", "label": "сентябрь 2025"},
    ]


async def test_billing_periods_without_bills_are_the_months_before_today(gql):
    # The frozen clock stands at 2026-01-15: January is not billed yet.
    data = await gql("{ billingPeriods { value label } }")
    assert [p["value"] for p in data["billingPeriods"]] == ["2025-12", "2025-11", "2025-10"]
    assert data["billingPeriods"][0]["label"] == "декабрь 2025"


async def test_password_rules(gql):
    data = await gql("{ passwordRules }")
    assert data["passwordRules"] == ["MIN_LENGTH", "LETTERS_AND_DIGITS_ONLY", "NO_REPEATED_ADJACENT_DIGITS"]


async def test_graphiql_in_a_browser(http):
    response = await http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()

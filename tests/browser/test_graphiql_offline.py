"""GraphiQL works without internet (issue 21): the page the gateway serves at GET /graphql loads its scripts
and styles from the gateway itself; with every other host refused, the editor renders and runs a query."""

from __future__ import annotations


def test_graphiql_renders_with_no_network_beyond_the_gateway(page, gateway):
    gateway.outside.clear()
    page.goto(f"{gateway.url}/graphql", wait_until="load")
    editor = page.locator(".graphiql-query-editor .CodeMirror").first
    editor.wait_for(state="visible", timeout=30_000)
    assert page.locator(".graphiql-execute-button").count() >= 1
    assert gateway.outside == []

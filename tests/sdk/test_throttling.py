"""Throttling as Graph does it, seen from the official SDK: a burst over the per-tenant, per-app limit gets
429 with Retry-After, and the SDK's retry handler (kiota's RetryHandler, in every GraphServiceClient) waits
as told and succeeds.

A server of its own, with a tiny limit: 2 requests per 2 seconds per application per tenant, and JSON logs
so that the test can count what the server answered before the SDK's retries succeeded.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from msgraph_beta.generated.models.industry_data.basic_filter import BasicFilter
from msgraph_beta.generated.models.industry_data.filter_options import FilterOptions
from msgraph_beta.generated.models.industry_data.outbound_provisioning_flow_set import OutboundProvisioningFlowSet

from conftest import ALL_SCOPES, Rosterflow, find_binary, free_port
from helpers import idd, unique

LIMIT, WINDOW_SECONDS = 2, 2


@pytest.fixture(scope="module")
def throttled(rosterflow: Rosterflow):
    with tempfile.TemporaryDirectory(prefix="rosterflow-sdk-throttle-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        if rosterflow.database_url:
            # A second replica of the suite's PostgreSQL database: it must open what the first one sealed
            # (the upload signing key), so it shares the secrets key file and the dev token key.
            data_dir = rosterflow.data_dir
        server = Rosterflow(
            binary=find_binary(), data_dir=data_dir, port=free_port(), log_path=Path(tmp) / "server.log",
            extra_args=["--throttle-limit", str(LIMIT), "--throttle-window-seconds", str(WINDOW_SECONDS),
                        "--log-format", "json"],
        )
        server.start()
        try:
            yield server
        finally:
            server.stop()


def request_lines(server: Rosterflow, tenant: str) -> list[dict]:
    """The server's log line of every request of `tenant` (the log also holds a plain `listening on` line)."""
    lines = []
    for line in server.log_path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("target") == "rosterflow::request" and entry.get("tenant") == tenant:
                lines.append(entry)
    return lines


async def test_the_sdk_retries_a_throttled_burst_after_retry_after_and_succeeds(throttled):
    tenant = "throttled-contoso"
    client = throttled.client(throttled.token(tenant, scopes=ALL_SCOPES))
    sets = idd(client).outbound_provisioning_flow_sets

    def new_set() -> OutboundProvisioningFlowSet:
        return OutboundProvisioningFlowSet(
            display_name=unique("throttled"),
            filter=BasicFilter(attribute=FilterOptions.OrgExternalId, in_=["North"]),
        )

    # Four at once against a bucket of two that refills one a second: two answered at once, two told to
    # retry after a second (and one of those once more).
    started = time.monotonic()
    results = await asyncio.gather(sets.get(), sets.get(), sets.post(new_set()), sets.post(new_set()))
    elapsed = time.monotonic() - started

    assert results[0].value is not None and results[1].value is not None
    assert all(r.id for r in results[2:]), "both creates succeeded after their retries"
    lines = request_lines(throttled, tenant)
    throttled_lines = [entry for entry in lines if entry["status"] == 429]
    assert throttled_lines, f"the server never throttled: {lines}"
    assert all(entry["status"] in (200, 201, 429) for entry in lines), lines
    assert len([entry for entry in lines if entry["status"] == 201]) == 2, "each create landed once"
    assert elapsed >= 1.0, f"the SDK retried before the Retry-After second had passed ({elapsed:.2f}s)"


async def test_a_throttled_answer_is_graphs_429_with_retry_after(throttled):
    token = throttled.token("throttled-fabrikam", scopes=ALL_SCOPES)
    url = f"{throttled.industry_data_url}/outboundProvisioningFlowSets"
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http:
        replies = [await http.get(url) for _ in range(LIMIT + 1)]
    assert [r.status_code for r in replies[:LIMIT]] == [200] * LIMIT
    refused = replies[LIMIT]
    assert refused.status_code == 429, refused.text
    assert int(refused.headers["Retry-After"]) >= 1
    error = refused.json()["error"]
    assert error["code"] == "TooManyRequests"
    assert error["innerError"]["request-id"] == refused.headers["request-id"]

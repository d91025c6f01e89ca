"""Small helpers shared by the SDK conformance tests (no fixtures here: see conftest.py)."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any, Awaitable, Optional

import httpx
import pytest
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.serialization import Parsable
from kiota_serialization_json.json_serialization_writer import JsonSerializationWriter
from msgraph_beta import GraphServiceClient
from msgraph_beta.generated.external.industry_data.industry_data_request_builder import IndustryDataRequestBuilder
from msgraph_beta.generated.models.o_data_errors.o_data_error import ODataError
from msgraph_beta.graph_request_adapter import GraphRequestAdapter

HOST = "127.0.0.1"
# ROSTERFLOW_SDK_PHASE=1: the server only implements outboundProvisioningFlowSets (and their flows) so far.
PHASE_1_ONLY = os.environ.get("ROSTERFLOW_SDK_PHASE") == "1"


class StaticToken(AccessTokenProvider):
    """Hands out one fixed bearer token, only to the hosts it is allowed for."""

    def __init__(self, token: str, hosts: list[str]) -> None:
        self._token = token
        self._validator = AllowedHostsValidator(hosts)

    async def get_authorization_token(self, uri: str, additional_authentication_context: dict = {}) -> str:
        return self._token if self._validator.is_url_host_valid(uri) else ""

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return self._validator


def graph_client(base_url: str, token: str) -> GraphServiceClient:
    """A stock GraphServiceClient (default Graph middleware) that talks to `base_url`."""
    auth = BaseBearerTokenAuthenticationProvider(StaticToken(token, [HOST]))
    adapter = GraphRequestAdapter(auth)
    adapter.base_url = base_url  # must precede GraphServiceClient(), which otherwise sets graph.microsoft.com
    return GraphServiceClient(request_adapter=adapter)


def idd(client: GraphServiceClient) -> IndustryDataRequestBuilder:
    """`/external/industryData` for `client`."""
    return client.external.industry_data


def unique(prefix: str) -> str:
    """A display name no other test (or earlier run on a shared database) uses."""
    return f"{prefix} {uuid.uuid4().hex[:10]}"


def query(builder: Any, **params: Any) -> RequestConfiguration:
    """RequestConfiguration for `builder.get()` with OData query options, e.g. query(b, top=2, count=True).

    Every generated builder nests its own `<Name>GetQueryParameters` dataclass; find it by suffix.
    """
    params_type = next(v for k, v in vars(type(builder)).items() if k.endswith("GetQueryParameters"))
    return RequestConfiguration(query_parameters=params_type(**params))


async def list_all(builder: Any, *, max_pages: int = 1000, **params: Any) -> tuple[list, list]:
    """GET a collection and follow `@odata.nextLink` with `builder.with_url(...)`.

    Returns (items, pages); every page is the SDK's *CollectionResponse object.
    """
    page = await builder.get(query(builder, **params) if params else None)
    pages, items = [page], list(page.value or [])
    while page.odata_next_link:
        assert len(pages) < max_pages, f"more than {max_pages} pages: is @odata.nextLink looping?"
        page = await builder.with_url(page.odata_next_link).get()
        pages.append(page)
        items.extend(page.value or [])
    return items, pages


async def expect_error(status: int, awaitable: Awaitable) -> ODataError:
    """Await an SDK call that must fail with `status` and a populated Graph error envelope."""
    with pytest.raises(ODataError) as caught:
        await awaitable
    error = caught.value
    assert error.response_status_code == status, f"expected {status}, got {error.response_status_code}: {error}"
    assert error.error is not None, f"{status} without a Graph error body: {error!r}"
    assert error.error.code, f"{status} error without error.code: {error.error!r}"
    assert error.error.message, f"{status} error without error.message: {error.error!r}"
    assert error.error.inner_error is not None, f"{status} error without innerError: {error.error!r}"
    return error


def wire(model: Optional[Parsable]) -> Any:
    """The JSON the SDK itself would send for `model`, with every `@odata.*` annotation removed.

    Comparing two wire() values compares every writable property, whatever the server chose
    to echo as nested `@odata.type` or `@odata.context`.
    """
    if model is None:
        return None
    writer = JsonSerializationWriter()
    writer.write_object_value(None, model)
    return _strip_annotations(json.loads(writer.get_serialized_content()))


def _strip_annotations(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_annotations(v) for k, v in value.items() if "@odata." not in k}
    if isinstance(value, list):
        return [_strip_annotations(v) for v in value]
    return value


def assert_same(expected: Optional[Parsable], actual: Optional[Parsable]) -> None:
    assert wire(actual) == wire(expected)


async def delete_quietly(builder: Any) -> None:
    """Best-effort cleanup: the entity may be gone already, or the server may be down."""
    try:
        await builder.delete()
    except (ODataError, httpx.HTTPError):
        pass


def ids(items: list) -> list[str]:
    return [item.id for item in items]

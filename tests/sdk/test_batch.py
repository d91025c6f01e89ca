"""JSON batching (`POST /beta/$batch`) driven by the official SDK's batch helpers: msgraph-core's
`BatchRequestItem`, `BatchRequestContent` and `BatchRequestContentCollection`, posted with
`BatchRequestBuilder` (msgraph-beta-sdk 1.66 has no `client.batch` property), and the answers read back
through the SDK's own `BatchResponseContent`.

What the SDK does that the server has to meet (msgraph-core 1.5.2):
- it sends `depends_on` (snake case) for `dependsOn`, and header names in lower case;
- it sends a request's URL absolute once the client has made any request (msgraph-sdk-python #1015,
  msgraph-sdk-python-core #1116); Graph refuses absolute URLs with a 400, and so does rosterflow, so these
  tests make the URL relative as Graph's users have to ([`item`]);
- `BatchRequestContentCollection` cuts any number of requests into batches of 20 and posts them one after
  another, never two at once: the shape of a large load through the SDK;
- it reads a response's `body` only when it is a base64 string (a `/$count`, any body that is not JSON); a JSON
  object body is dropped by the SDK (kiota-python issue #737), see the strict xfail below.
"""

from __future__ import annotations

import pytest
from kiota_abstractions.api_error import APIError
from kiota_abstractions.request_information import RequestInformation
from msgraph_core.requests.batch_request_builder import BatchRequestBuilder
from msgraph_core.requests.batch_request_content import BatchRequestContent
from msgraph_core.requests.batch_request_content_collection import BatchRequestContentCollection
from msgraph_core.requests.batch_request_item import BatchRequestItem
from msgraph_core.requests.batch_response_content import BatchResponseContent
from msgraph_beta.generated.models.industry_data.basic_filter import BasicFilter
from msgraph_beta.generated.models.industry_data.filter_options import FilterOptions
from msgraph_beta.generated.models.industry_data.outbound_provisioning_flow_set import OutboundProvisioningFlowSet

from helpers import idd, query, unique


def sets(client):
    return idd(client).outbound_provisioning_flow_sets


def new_set(name: str) -> OutboundProvisioningFlowSet:
    return OutboundProvisioningFlowSet(
        display_name=name, filter=BasicFilter(attribute=FilterOptions.OrgExternalId, in_=["North", "South"])
    )


def item(client, info: RequestInformation, id: str, depends_on=None) -> BatchRequestItem:
    """A batch request as the SDK builds it, its URL made relative to the version root: the workaround Graph's
    users apply (msgraph-sdk-python #1015), since the SDK keeps the absolute URL of a client that has been used."""
    made = BatchRequestItem(info, id=id, depends_on=depends_on)
    made.url = made.url.removeprefix(client.request_adapter.base_url)
    return made


def create(client, name: str) -> RequestInformation:
    return sets(client).to_post_request_information(new_set(name))


def find(client, name: str) -> RequestInformation:
    builder = sets(client)
    return builder.to_get_request_information(query(builder, filter=f"displayName eq '{name}'"))


def count(client, name: str) -> RequestInformation:
    builder = sets(client).count
    return builder.to_get_request_information(query(builder, filter=f"displayName eq '{name}'"))


async def post(client, content) -> BatchResponseContent:
    return await BatchRequestBuilder(client.request_adapter).post(content)


async def stored(client, name: str) -> int:
    return await sets(client).count.get(query(sets(client).count, filter=f"displayName eq '{name}'"))


async def test_several_flow_sets_are_created_in_one_batch(client):
    name = unique("sdk batch")
    content = BatchRequestContent({str(i): item(client, create(client, name), str(i)) for i in range(5)})
    answer = await post(client, content)
    assert answer.get_response_status_codes() == {str(i): 201 for i in range(5)}
    for i in range(5):
        response = answer.get_response_by_id(str(i))
        assert response.content_type.startswith("application/json"), response.headers
        assert response.headers["request-id"], response.headers
    assert await stored(client, name) == 5


async def test_a_depends_on_chain_runs_in_order(client):
    name = unique("sdk chain")
    made = item(client, create(client, name), "create")
    found = item(client, find(client, name), "find", depends_on=[made])
    counted = item(client, count(client, name), "count", depends_on=["find"])
    answer = await post(client, BatchRequestContent({"create": made, "find": found, "count": counted}))
    assert answer.get_response_status_codes() == {"create": 201, "find": 200, "count": 200}
    # `/$count` is text/plain: its body comes back in base64, which the SDK decodes. 1, not 0: it ran after the
    # create, as `depends_on` asked.
    assert answer.get_response_by_id("count").content_type.startswith("text/plain")
    assert answer.get_response_stream_by_id("count").read() == b"1"


async def test_a_failing_request_fails_those_that_depend_on_it_with_424(client):
    name = unique("sdk failing")
    bad = item(client, create(client, "x" * 101), "bad")
    after = item(client, find(client, name), "after", depends_on=["bad"])
    then = item(client, count(client, name), "then", depends_on=["after"])
    free = item(client, create(client, name), "free")
    answer = await post(client, BatchRequestContent({"bad": bad, "after": after, "then": then, "free": free}))
    assert answer.get_response_status_codes() == {"bad": 400, "after": 424, "then": 424, "free": 201}
    assert await stored(client, name) == 1


async def test_each_request_is_authorized_as_itself(reader):
    name = unique("sdk reader")
    content = BatchRequestContent({
        "read": item(reader, find(reader, name), "read"),
        "write": item(reader, create(reader, name), "write"),
    })
    answer = await post(reader, content)
    assert answer.get_response_status_codes() == {"read": 200, "write": 403}


async def test_a_collection_is_sent_as_batches_of_20(client):
    """How a district's 100,000 accounts go through the SDK: 20 a batch, one batch after another."""
    name = unique("sdk collection")
    collection = BatchRequestContentCollection()
    for i in range(45):
        collection.add_batch_request_item(item(client, create(client, name), f"n{i}"))
    assert [len(b.requests) for b in collection.get_batch_requests_for_execution()] == [20, 20, 5]
    answers = await post(client, collection)
    codes = {}
    for answer in answers.get_responses():
        codes.update(answer.get_response_status_codes())
    assert codes == {f"n{i}": 201 for i in range(45)}
    assert await stored(client, name) == 45


@pytest.mark.xfail(
    strict=True,
    raises=ValueError,
    reason="msgraph-core 1.5.2 with kiota-serialization-json 1.16 drops a JSON object body (kiota-python #737); "
    "when this passes, the SDK reads batch bodies again and the workaround notes can go",
)
async def test_the_sdk_reads_a_json_body_as_its_model(client):
    name = unique("sdk body")
    answer = await post(client, BatchRequestContent({"1": item(client, create(client, name), "1")}))
    assert answer.get_response_status_codes() == {"1": 201}
    created = answer.get_response_by_id("1", OutboundProvisioningFlowSet)
    assert created.display_name == name


async def test_an_absolute_url_is_refused_as_graph_refuses_it(client):
    """What the SDK sends without the workaround, once the client has been used: a 400 for the whole batch."""
    await sets(client).count.get()  # the SDK's builders now carry the base URL
    made = BatchRequestItem(create(client, unique("sdk absolute")), id="1")
    assert made.url.startswith("http"), made.url
    with pytest.raises(APIError) as refused:
        await post(client, BatchRequestContent({"1": made}))
    assert refused.value.response_status_code == 400

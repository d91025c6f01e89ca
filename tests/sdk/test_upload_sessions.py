"""Upload sessions end to end: getUploadSession through the official Graph SDK's request adapter (the beta
Python SDK has no builder for it), then Microsoft's own Azure Storage SDKs, unmodified, against the
`sessionUrl`: azure-storage-blob (Put Blob, Put Block + Put Block List, Get Blob, List Blobs, Delete) and
azure-storage-file-datalake (the path create / append / flush protocol of Microsoft's SDS samples), and AzCopy, with
Microsoft's SDS v2.1 sample files (tests/fixtures/sds-v2.1); then the Graph SDK's `validate` action and its
fileValidateOperation, polled to the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from urllib.parse import parse_qsl, urlsplit

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import ContainerClient
from azure.storage.filedatalake import FileSystemClient
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from kiota_http.middleware.options import HeadersInspectionHandlerOption
from msgraph_beta.generated.models.industry_data.file_validate_operation import FileValidateOperation
from msgraph_beta.generated.models.long_running_operation_status import LongRunningOperationStatus
from msgraph_beta.generated.models.o_data_errors.o_data_error import ODataError

from conftest import REPO_ROOT
from helpers import idd
from test_configuration_api import lake_connector_body, source_system_body

pytestmark = pytest.mark.phase2

NS = "microsoft.graph.industryData"
SDS_V21 = REPO_ROOT / "tests/fixtures/sds-v2.1"


def sample_files() -> dict[str, bytes]:
    files = {p.name: p.read_bytes() for p in sorted(SDS_V21.glob("*.csv"))}
    assert len(files) == 10, f"the SDS v2.1 sample is incomplete in {SDS_V21}"
    return files


async def get_upload_session(client, base_url: str, connector_id: str, reset: bool = False, cast: bool = True) -> dict:
    """GET getUploadSession through the SDK's request adapter (its middleware, auth and error mapping)."""
    op = f"{NS}.azureDataLakeConnector/getUploadSession" if cast else "getUploadSession"
    if reset:
        op += "(resetSession=true)"
    info = RequestInformation()
    info.http_method = Method.GET
    info.url = f"{base_url}/external/industryData/dataConnectors/{connector_id}/{op}"
    info.headers.try_add("Accept", "application/json")
    raw = await client.request_adapter.send_primitive_async(info, "bytes", {"XXX": ODataError})
    return json.loads(raw)


@pytest.fixture(scope="module")
async def lake(client, rosterflow):
    base = rosterflow.industry_data_url
    source_system = await idd(client).source_systems.post(source_system_body(base))
    connector = await idd(client).data_connectors.post(lake_connector_body(base, source_system.id))
    return connector.id


async def validate(client, connector_id: str) -> str:
    """POST validate through the SDK's builder; the operation's id from the Location header of its 202."""
    inspect = HeadersInspectionHandlerOption(inspect_response_headers=True)
    builder = idd(client).data_connectors.by_industry_data_connector_id(connector_id).microsoft_graph_industry_data_validate
    await builder.post(RequestConfiguration(options=[inspect]))
    (location,) = inspect.response_headers.get("location")
    assert "/external/industryData/operations/" in location, location
    return location.rsplit("/", 1)[1]


async def poll_operation(client, op_id: str, timeout: float = 60.0) -> tuple[FileValidateOperation, list]:
    """GET the operation (as the SDK deserializes it) until it ends; with every status seen."""
    seen = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        op = await idd(client).operations.by_long_running_operation_id(op_id).get()
        if not seen or seen[-1] != op.status:
            seen.append(op.status)
        if op.status not in (LongRunningOperationStatus.NotStarted, LongRunningOperationStatus.Running):
            return op, seen
        assert loop.time() < deadline, f"the operation did not finish: {seen}"
        await asyncio.sleep(0.05)


def container_client(session: dict, **kwargs) -> ContainerClient:
    return ContainerClient.from_container_url(session["sessionUrl"], **kwargs)


def datalake_client(session: dict) -> FileSystemClient:
    """As Microsoft's samples use it: the session URL split into account URL, file system and SAS."""
    url = urlsplit(session["sessionUrl"])
    account = f"{url.scheme}://{url.netloc}{url.path.rsplit('/', 1)[0]}"
    return FileSystemClient(account, file_system_name=session["containerId"], credential=url.query)


async def test_get_upload_session_returns_a_file_upload_session(client, rosterflow, lake):
    s = await get_upload_session(client, rosterflow.base_url, lake)
    assert set(s) >= {"containerExpirationDateTime", "containerId", "sessionExpirationDateTime", "sessionUrl"}
    assert s["containerExpirationDateTime"] > s["sessionExpirationDateTime"]
    url = urlsplit(s["sessionUrl"])
    assert f"{url.scheme}://{url.netloc}" == rosterflow.root_url
    assert url.path == f"/rosterflow/storage/{s['containerId']}"
    params = dict(parse_qsl(url.query))
    assert set(params) == {"sv", "se", "sr", "sp", "sig"}, "Azure's SAS parameters only"
    assert params["sr"] == "c"
    assert params["se"] == s["sessionExpirationDateTime"], "the signature expires with the session"
    again = await get_upload_session(client, rosterflow.base_url, lake)
    assert again["containerId"] == s["containerId"], "the same container until it is reset or expires"
    bare = await get_upload_session(client, rosterflow.base_url, lake, cast=False)
    assert bare["containerId"] == s["containerId"]


async def test_the_blob_sdk_uploads_the_sds_sample(client, rosterflow, lake):
    files = sample_files()
    session = await get_upload_session(client, rosterflow.base_url, lake, reset=True)
    with container_client(session) as cc:
        for name, data in files.items():
            cc.upload_blob(name, data)
        assert sorted(b.name for b in cc.list_blobs()) == sorted(files)
        for name, data in files.items():
            assert cc.download_blob(name).readall() == data
        props = cc.get_blob_client("users.csv").get_blob_properties()
        assert props.size == len(files["users.csv"]) and props.etag
        with pytest.raises(ResourceExistsError):
            cc.upload_blob("users.csv", b"again")  # overwrite=False sends If-None-Match: *
        cc.upload_blob("users.csv", files["users.csv"], overwrite=True)
        cc.delete_blob("userFlags.csv")
        with pytest.raises(ResourceNotFoundError):
            cc.download_blob("userFlags.csv").readall()
        assert sorted(b.name for b in cc.list_blobs(name_starts_with="user")) == ["users.csv"]


async def test_the_blob_sdk_splits_large_files_into_blocks(client, rosterflow, lake):
    session = await get_upload_session(client, rosterflow.base_url, lake, reset=True)
    data = b"".join(b"%08d,student%08d@example.org\n" % (i, i) for i in range(4000))
    # Small thresholds make the SDK send Put Block + Put Block List, as it does past 64 MiB by default.
    with container_client(session, max_single_put_size=16 * 1024, max_block_size=8 * 1024) as cc:
        cc.upload_blob("users.csv", data, max_concurrency=3)
        committed, uncommitted = cc.get_blob_client("users.csv").get_block_list("all")
        assert sum(b.size for b in committed) == len(data) and len(committed) > 1 and uncommitted == []
        assert cc.download_blob("users.csv", max_concurrency=2).readall() == data
        assert cc.get_blob_client("users.csv").download_blob(offset=100, length=50).readall() == data[100:150]
        cc.upload_blob("empty.csv", b"")
        assert cc.download_blob("empty.csv").readall() == b""


async def test_the_datalake_sdk_uploads_the_sds_sample_as_the_samples_do(client, rosterflow, lake):
    files = sample_files()
    session = await get_upload_session(client, rosterflow.base_url, lake, reset=True)
    with datalake_client(session) as fs:
        for name, data in files.items():
            f = fs.get_file_client(name)
            f.create_file()  # PUT ?resource=file
            f.append_data(data, offset=0, length=len(data))  # PATCH ?action=append&position=0
            f.flush_data(len(data))  # PATCH ?action=flush&position=<length>
        fs.get_file_client("roles.csv").upload_data(files["roles.csv"], overwrite=True)
        fs.get_file_client("extra.csv").upload_data(b"a,b\n1,2\n")  # append then flush with If-None-Match: *
        assert fs.get_file_client("users.csv").download_file().readall() == files["users.csv"]
    with container_client(session) as cc:
        assert sorted(b.name for b in cc.list_blobs()) == sorted([*files, "extra.csv"])
        for name, data in files.items():
            assert cc.download_blob(name).readall() == data


@pytest.mark.parametrize("sdk", ["blob", "datalake"])
async def test_an_uploaded_sample_validates_through_the_graph_sdk(client, rosterflow, lake, sdk):
    files = sample_files()
    session = await get_upload_session(client, rosterflow.base_url, lake, reset=True)
    if sdk == "blob":
        with container_client(session) as cc:
            for name, data in files.items():
                cc.upload_blob(name, data)
    else:
        with datalake_client(session) as fs:
            for name, data in files.items():
                fs.get_file_client(name).upload_data(data)
    op_id = await validate(client, lake)
    op, seen = await poll_operation(client, op_id)
    assert isinstance(op, FileValidateOperation), type(op)
    assert op.status == LongRunningOperationStatus.Succeeded, op.status_detail
    assert set(seen) <= {LongRunningOperationStatus.NotStarted, LongRunningOperationStatus.Running,
                         LongRunningOperationStatus.Succeeded}, seen
    assert op.errors == [] and op.warnings == [], (op.errors, op.warnings)
    assert sorted(op.validated_files) == sorted(files)
    assert op.created_date_time <= op.last_action_date_time
    assert op.resource_location.endswith(f"/dataConnectors/{lake}")
    # The session is over: its signature is refused, and validating again needs a new session.
    with container_client(session) as cc, pytest.raises(ClientAuthenticationError):
        cc.upload_blob("orgs.csv", b"x", overwrite=True)
    with pytest.raises(ODataError) as e:
        await validate(client, lake)
    assert e.value.response_status_code == 409


async def test_findings_reach_the_sdk_as_public_errors(client, rosterflow, lake):
    session = await get_upload_session(client, rosterflow.base_url, lake, reset=True)
    files = sample_files()
    del files["orgs.csv"]
    with container_client(session) as cc:
        for name, data in files.items():
            cc.upload_blob(name, data)
    op, _ = await poll_operation(client, await validate(client, lake))
    assert op.status == LongRunningOperationStatus.Succeeded, "validation ran to its end"
    codes = {(e.code, e.target) for e in op.errors}
    assert ("RequiredFileNotFound", "orgs.csv") in codes, codes
    assert op.validated_files == [], "a refused upload processes nothing"


async def test_wrong_positions_are_refused_and_change_nothing(client, rosterflow, lake):
    session = await get_upload_session(client, rosterflow.base_url, lake, reset=True)
    with datalake_client(session) as fs:
        f = fs.get_file_client("orgs.csv")
        f.upload_data(b"sourcedId,name\n", overwrite=True)
        with pytest.raises(HttpResponseError) as e:
            f.append_data(b"rewrite", offset=0, length=7)
        assert e.value.error_code == "InvalidFlushPosition"
        f.append_data(b"1,One\n", offset=15, length=6)
        with pytest.raises(HttpResponseError) as e:
            f.flush_data(30)
        assert e.value.error_code == "InvalidFlushPosition"
        assert f.download_file().readall() == b"sourcedId,name\n", "unflushed appends are invisible"
        f.flush_data(21)
        assert f.download_file().readall() == b"sourcedId,name\n1,One\n"


async def test_a_reset_session_refuses_its_old_signature(client, rosterflow, lake):
    old = await get_upload_session(client, rosterflow.base_url, lake, reset=True)
    with container_client(old) as cc:
        cc.upload_blob("users.csv", b"sourcedId\n")
    new = await get_upload_session(client, rosterflow.base_url, lake, reset=True)
    assert new["containerId"] != old["containerId"]
    with container_client(old) as cc, pytest.raises(ClientAuthenticationError) as e:
        cc.upload_blob("orgs.csv", b"x")
    assert e.value.error_code == "AuthenticationFailed"
    with container_client(new) as cc:
        assert list(cc.list_blobs()) == [], "a reset session starts empty"


async def test_get_upload_session_needs_upload_permission_and_a_lake_connector(graph, rosterflow, reader, lake):
    with pytest.raises(ODataError) as e:
        await get_upload_session(reader, rosterflow.base_url, lake)
    assert e.value.response_status_code == 403
    with pytest.raises(ODataError) as e:
        await validate(reader, lake)
    assert e.value.response_status_code == 403
    other = graph(rosterflow.token("fabrikam", scopes=["IndustryData-DataConnector.Upload"]))
    with pytest.raises(ODataError) as e:
        await get_upload_session(other, rosterflow.base_url, lake)
    assert e.value.response_status_code == 404, "another tenant's connector is not there"


AZCOPY = REPO_ROOT / "tests/azurite/node_modules/@azure-tools/azcopy-linux/dist/bin/azcopy_linux_amd64"


def azcopy_runs() -> bool:
    try:
        return subprocess.run([str(AZCOPY), "--version"], capture_output=True, timeout=30).returncode == 0
    except OSError:
        return False


@pytest.mark.skipif(not azcopy_runs(), reason="AzCopy is not installed: run tests/azurite/install.sh")
@pytest.mark.parametrize("host", ["ip", "name"])
async def test_azcopy_uploads_the_sds_sample(client, rosterflow, lake, tmp_path, host):
    """AzCopy (Go's SDK) reads an IP-style URL as account/container/folder and a host name as container/folder,
    and escapes the `/` in the blob name it builds; both reach the same container."""
    # The sample, and a file past AzCopy's block size (Put Block + Put Block List).
    files = {**sample_files(), "big.csv": b"".join(b"%08d,student%08d\n" % (i, i) for i in range(30000))}
    session = await get_upload_session(client, rosterflow.base_url, lake, reset=True)
    url = session["sessionUrl"] if host == "ip" else session["sessionUrl"].replace("127.0.0.1", "localhost", 1)
    env = {**os.environ, "AZCOPY_LOG_LOCATION": str(tmp_path / "logs"), "AZCOPY_JOB_PLAN_LOCATION": str(tmp_path / "plans")}
    source = tmp_path / "roster"
    source.mkdir()
    for name, data in files.items():
        (source / name).write_bytes(data)
    done = subprocess.run([str(AZCOPY), "copy", f"{source}/*", url, "--from-to", "LocalBlob", "--block-size-mb", "0.25"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    with container_client(session) as cc:
        assert sorted(b.name for b in cc.list_blobs()) == sorted(files)
        for name, data in files.items():
            assert cc.download_blob(name).readall() == data

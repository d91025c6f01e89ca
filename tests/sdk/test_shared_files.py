"""Two replicas on one PostgreSQL database with their files in Azure Blob Storage, emulated by Azurite
(Microsoft's emulator, installed by tests/azurite/install.sh): a file uploaded through one replica is read
through the other, with the same session, and the other replica hands out the same container; validating
through the other replica reads the files from the shared store, and the operation reads the same on both.

Runs when ROSTERFLOW_SHARED_DATABASE_URL names a fresh PostgreSQL database (scripts/test.sh creates one).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from azure.storage.blob import BlobServiceClient, ContainerClient

from conftest import REPO_ROOT, Rosterflow, find_binary, free_port
from helpers import HOST, graph_client, idd
from test_configuration_api import lake_connector_body, source_system_body
from msgraph_beta.generated.models.long_running_operation_status import LongRunningOperationStatus
from test_upload_sessions import datalake_client, get_upload_session, poll_operation, sample_files, validate

DATABASE = os.environ.get("ROSTERFLOW_SHARED_DATABASE_URL")
pytestmark = [
    pytest.mark.phase2,
    pytest.mark.skipif(not DATABASE, reason="ROSTERFLOW_SHARED_DATABASE_URL (a fresh PostgreSQL database) is not set"),
]

AZURITE = REPO_ROOT / "tests/azurite"
# Azurite's well-known development account (documented by Microsoft; not a secret).
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
BUCKET = "rosterflow"


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"Azurite exited with status {process.returncode}")
        with socket.socket() as s:
            if s.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.1)
    pytest.fail(f"Azurite did not listen on {port} within {timeout:.0f}s")


@pytest.fixture(scope="module")
def azurite():
    subprocess.run(["bash", str(AZURITE / "install.sh")], check=True, timeout=600)
    port = free_port()
    workspace = tempfile.mkdtemp(prefix="rosterflow-azurite-")
    cmd = [str(AZURITE / "node_modules/.bin/azurite-blob"), "--blobHost", HOST, "--blobPort", str(port),
           "--location", workspace, "--silent", "--skipApiVersionCheck", "--disableTelemetry"]
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
        endpoint = f"http://{HOST}:{port}/{ACCOUNT}"
        service = BlobServiceClient(endpoint, credential={"account_name": ACCOUNT, "account_key": ACCOUNT_KEY})
        service.create_container(BUCKET)
        yield endpoint, service.get_container_client(BUCKET)
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(workspace, ignore_errors=True)


@pytest.fixture(scope="module")
def replicas(azurite):
    endpoint, _ = azurite
    data_dir = Path(tempfile.mkdtemp(prefix="rosterflow-replicas-"))
    # One data directory for both (the dev signing key and the secrets key file replicas must share); the
    # database and the object store are what makes them replicas.
    env = {**os.environ, "AZURE_STORAGE_USE_EMULATOR": "true", "AZURITE_BLOB_STORAGE_URL": endpoint.rsplit("/", 1)[0]}
    servers = [
        Rosterflow(binary=find_binary(), data_dir=data_dir, port=free_port(), log_path=data_dir / f"replica{i}.log",
                   extra_args=["--files-url", f"az://{BUCKET}/uploads"], env=env, database_url=DATABASE)
        for i in range(2)
    ]
    try:
        for s in servers:
            s.start()
        yield servers
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def on(replica: Rosterflow, session_url: str) -> str:
    """The same session URL, addressed to `replica`."""
    url = urlsplit(session_url)
    return url._replace(netloc=f"{HOST}:{replica.port}").geturl()


async def test_a_file_uploaded_through_one_replica_is_read_through_the_other(replicas, azurite):
    a, b = replicas
    token = a.token("contoso", scopes=["IndustryData-SourceSystem.ReadWrite.All",
                                       "IndustryData-DataConnector.ReadWrite.All", "IndustryData.ReadBasic.All"])
    client_a, client_b = graph_client(a.base_url, token), graph_client(b.base_url, token)
    source = await idd(client_a).source_systems.post(source_system_body(a.industry_data_url))
    connector = await idd(client_a).data_connectors.post(lake_connector_body(a.industry_data_url, source.id))
    session = await get_upload_session(client_a, a.base_url, connector.id)
    assert (await get_upload_session(client_b, b.base_url, connector.id))["containerId"] == session["containerId"]

    files = sample_files()
    big = b"".join(b"%08d,student%08d\n" % (i, i) for i in range(3000))
    with ContainerClient.from_container_url(session["sessionUrl"], max_single_put_size=8192, max_block_size=4096) as cc:
        for name, data in files.items():
            cc.upload_blob(name, data)
        cc.upload_blob("big.csv", big)  # Put Block + Put Block List through replica A
    with ContainerClient.from_container_url(on(b, session["sessionUrl"])) as cc:
        assert sorted(x.name for x in cc.list_blobs()) == sorted([*files, "big.csv"])
        for name, data in files.items():
            assert cc.download_blob(name).readall() == data
        assert cc.download_blob("big.csv").readall() == big
    # The Data Lake protocol through B, read back through A.
    with datalake_client({**session, "sessionUrl": on(b, session["sessionUrl"])}) as fs:
        fs.get_file_client("extra.csv").upload_data(b"a,b\n", overwrite=True)
    with ContainerClient.from_container_url(session["sessionUrl"]) as cc:
        assert cc.download_blob("extra.csv").readall() == b"a,b\n"

    # The bytes are in the shared object store, under the container's id, never under a client's file name.
    _, bucket = azurite
    objects = [o.name for o in bucket.list_blobs(name_starts_with="uploads/")]
    assert objects and all(o.startswith(f"uploads/{session['containerId']}/") for o in objects), objects
    assert not any(o.endswith(".csv") for o in objects)

    # Validated through B (its job reads what A stored), the operation polled through A.
    op, _ = await poll_operation(client_a, await validate(client_b, connector.id))
    assert op.status == LongRunningOperationStatus.Succeeded, op.status_detail
    assert sorted(op.validated_files) == sorted(files)
    assert op.errors == []
    assert {(w.code, w.target) for w in op.warnings} == {("UnsupportedFile", "big.csv"), ("UnsupportedFile", "extra.csv")}

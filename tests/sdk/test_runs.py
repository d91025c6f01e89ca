"""Runs through the official Graph SDK: Microsoft's SDS v2.1 sample uploaded with the Blob SDK and validated
(`validate`), then `runs.start` (202), the run polled as the SDK deserializes it, its activities and
`getStatistics`, and what the run provisioned read back with the SDK's education and group builders: classes,
their teachers and members, the group owners; and the on-demand limit's 429 reaching the caller.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_http.middleware.options import HeadersInspectionHandlerOption
from msgraph_beta.generated.models.industry_data.additional_class_group_options import AdditionalClassGroupOptions
from msgraph_beta.generated.models.industry_data.class_group_configuration import ClassGroupConfiguration
from msgraph_beta.generated.models.industry_data.class_group_provisioning_flow import ClassGroupProvisioningFlow
from msgraph_beta.generated.models.industry_data.enrollment_mappings import EnrollmentMappings
from msgraph_beta.generated.models.industry_data.inbound_activity_results import InboundActivityResults
from msgraph_beta.generated.models.industry_data.inbound_domain import InboundDomain
from msgraph_beta.generated.models.industry_data.inbound_file_flow import InboundFileFlow
from msgraph_beta.generated.models.industry_data.industry_data_run_status import IndustryDataRunStatus
from msgraph_beta.generated.models.industry_data.outbound_provisioning_flow_set import OutboundProvisioningFlowSet
from msgraph_beta.generated.models.industry_data.section_role_reference_value import SectionRoleReferenceValue
from msgraph_beta.generated.models.industry_data.additional_user_options import AdditionalUserOptions
from msgraph_beta.generated.models.industry_data.user_creation_options import UserCreationOptions
from msgraph_beta.generated.models.industry_data.user_management_options import UserManagementOptions
from msgraph_beta.generated.models.industry_data.user_provisioning_flow import UserProvisioningFlow
from msgraph_beta.generated.models.o_data_errors.o_data_error import ODataError

from conftest import ALL_SCOPES
from helpers import idd
from test_configuration_api import lake_connector_body, source_system_body, year_body
from test_outbound_provisioning import STAFF_PASSWORD, STUDENT_PASSWORD, user_configuration
from test_upload_sessions import container_client, get_upload_session, poll_operation, sample_files, validate

pytestmark = pytest.mark.phase2

DOMAIN = "classrmtest31.org"
# License SKUs are GUIDs in Graph (a user's assignedLicenses[].skuId): the SDK parses them as such.
STAFF_SKU, STUDENT_SKU = "94763226-9b3c-4e75-a931-5c89701abe66", "314c4481-f395-4525-be8b-2ec4bb1e9d91"


@pytest.fixture(scope="module")
def app(rosterflow, graph):
    """A tenant of its own, as an application holding the industryData and education roster permissions."""
    roles = [*ALL_SCOPES, "EduRoster.Read.All", "Member.Read.Hidden", "GroupMember.Read.All"]
    return graph(rosterflow.token(f"runs-{uuid.uuid4().hex[:12]}", roles=roles))


async def start(client) -> str:
    """POST runs/start through the SDK's builder; the run's id from the Location header of its 202."""
    inspect = HeadersInspectionHandlerOption(inspect_response_headers=True)
    await idd(client).runs.microsoft_graph_industry_data_start.post(RequestConfiguration(options=[inspect]))
    (location,) = inspect.response_headers.get("location")
    assert "/external/industryData/runs/" in location, location
    return location.rsplit("/", 1)[1]


async def poll_run(client, run_id: str, timeout: float = 60.0):
    """GET the run (as the SDK deserializes it) until it has ended."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        run = await idd(client).runs.by_industry_data_run_id(run_id).get()
        if run.status != IndustryDataRunStatus.Running:
            return run
        assert loop.time() < deadline, "the run did not end"
        await asyncio.sleep(0.05)


async def test_a_run_started_with_the_sdk_provisions_the_sample(app, rosterflow):
    base = rosterflow.industry_data_url
    now = dt.datetime.now(dt.timezone.utc)
    source_system = await idd(app).source_systems.post(source_system_body(base))
    connector = await idd(app).data_connectors.post(lake_connector_body(base, source_system.id))
    year = await idd(app).years.post(year_body())
    await idd(app).inbound_flows.post(InboundFileFlow(
        display_name="Rostering",
        additional_data={"dataConnector@odata.bind": f"{base}/dataConnectors/{connector.id}",
                         "year@odata.bind": f"{base}/years/{year.id}"},
        data_domain=InboundDomain.EducationRostering,
        effective_date_time=now - dt.timedelta(days=1),
        expiration_date_time=now + dt.timedelta(days=1),
    ))
    flow_set = await idd(app).outbound_provisioning_flow_sets.post(OutboundProvisioningFlowSet(display_name="District"))
    flows = idd(app).outbound_provisioning_flow_sets.by_outbound_provisioning_flow_set_id(flow_set.id).provisioning_flows
    await flows.post(UserProvisioningFlow(
        create_unmatched_users=True,
        creation_options=UserCreationOptions(configurations=[
            user_configuration(f"{base}/roleGroups/staff", STAFF_PASSWORD, STAFF_SKU),
            user_configuration(f"{base}/roleGroups('students')", STUDENT_PASSWORD, STUDENT_SKU),
        ]),
        management_options=UserManagementOptions(
            additional_attributes=[],
            additional_options=AdditionalUserOptions(allow_student_contact_association=False),
        ),
    ))
    await flows.post(ClassGroupProvisioningFlow(configuration=ClassGroupConfiguration(
        additional_attributes=[],
        additional_options=AdditionalClassGroupOptions(create_team=False, write_display_name_on_create_only=False),
        enrollment_mappings=EnrollmentMappings(
            owner_enrollment_mappings=[SectionRoleReferenceValue(code="teacher")],
            member_enrollment_mappings=[SectionRoleReferenceValue(code="student")],
        ),
    )))

    session = await get_upload_session(app, rosterflow.base_url, connector.id)
    with container_client(session) as cc:
        for name, data in sample_files().items():
            cc.upload_blob(name, data)
    op, _ = await poll_operation(app, await validate(app, connector.id))
    assert op.validated_files, "the sample validated"

    run_id = await start(app)
    run = await poll_run(app, run_id)
    assert run.status != IndustryDataRunStatus.Failed, run.blocking_error
    assert run.start_date_time <= run.end_date_time
    listed = await idd(app).runs.get()
    assert [r.id for r in listed.value] == [run_id]

    activities = await idd(app).runs.by_industry_data_run_id(run_id).activities.get()
    kinds = sorted(type(a).__name__ for a in activities.value)
    assert kinds == ["InboundFlowActivity", "OutboundFlowActivity", "OutboundFlowActivity"], kinds

    stats = await idd(app).runs.by_industry_data_run_id(run_id).microsoft_graph_industry_data_get_statistics.get()
    assert stats.run_id == run_id
    assert stats.inbound_totals.people == 8 and stats.inbound_totals.groups == 2
    assert stats.inbound_totals.memberships == 6 and stats.inbound_totals.organizations == 4
    (inbound,) = stats.activity_statistics
    assert isinstance(inbound, InboundActivityResults) and inbound.people.active == 8

    classes = {c.display_name: c for c in (await app.education.classes.get()).value}
    assert set(classes) == {"Biology 10", "Computer Science 101"}
    bio = app.education.classes.by_education_class_id(classes["Biology 10"].id)
    members = sorted(u.user_principal_name for u in (await bio.members.get()).value)
    assert members == [f"{n}@{DOMAIN}" for n in ("asmithee", "fhutch", "jcraig")]
    teachers = [u.user_principal_name for u in (await bio.teachers.get()).value]
    assert teachers == [f"kfein@{DOMAIN}"]
    owners = await app.groups.by_group_id(classes["Biology 10"].id).owners.get()
    assert [o.user_principal_name for o in owners.value] == [f"kfein@{DOMAIN}"]

    # At most five on demand: the sixth start's 429 reaches the caller as an ODataError (the SDK's retry
    # handler does not wait out a Retry-After of hours).
    for _ in range(4):
        await poll_run(app, await start(app))
    with pytest.raises(ODataError) as raised:
        await start(app)
    assert raised.value.response_status_code == 429

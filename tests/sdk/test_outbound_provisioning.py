"""outboundProvisioningFlowSets and their provisioningFlows, driven by the official Python beta SDK.

Bodies are built from SDK model objects only; the SDK serializes them exactly as a real Graph
client would (see shared/reference/sdk-clients.md).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Awaitable, Callable

import pytest
from msgraph_beta.generated.models.industry_data.additional_class_group_attributes import (
    AdditionalClassGroupAttributes as ClassAttr,
)
from msgraph_beta.generated.models.industry_data.additional_class_group_options import AdditionalClassGroupOptions
from msgraph_beta.generated.models.industry_data.additional_user_attributes import AdditionalUserAttributes
from msgraph_beta.generated.models.industry_data.additional_user_options import AdditionalUserOptions
from msgraph_beta.generated.models.industry_data.admin_unit_creation_options import AdminUnitCreationOptions
from msgraph_beta.generated.models.industry_data.administrative_unit_provisioning_flow import (
    AdministrativeUnitProvisioningFlow,
)
from msgraph_beta.generated.models.industry_data.basic_filter import BasicFilter
from msgraph_beta.generated.models.industry_data.class_group_configuration import ClassGroupConfiguration
from msgraph_beta.generated.models.industry_data.class_group_provisioning_flow import ClassGroupProvisioningFlow
from msgraph_beta.generated.models.industry_data.enrollment_mappings import EnrollmentMappings
from msgraph_beta.generated.models.industry_data.filter_options import FilterOptions
from msgraph_beta.generated.models.industry_data.outbound_provisioning_flow_set import OutboundProvisioningFlowSet
from msgraph_beta.generated.models.industry_data.provisioning_flow import ProvisioningFlow
from msgraph_beta.generated.models.industry_data.readiness_status import ReadinessStatus
from msgraph_beta.generated.models.industry_data.section_role_reference_value import SectionRoleReferenceValue
from msgraph_beta.generated.models.industry_data.security_group_creation_options import SecurityGroupCreationOptions
from msgraph_beta.generated.models.industry_data.security_group_provisioning_flow import (
    SecurityGroupProvisioningFlow,
)
from msgraph_beta.generated.models.industry_data.simple_password_settings import SimplePasswordSettings
from msgraph_beta.generated.models.industry_data.student_age_group import StudentAgeGroup
from msgraph_beta.generated.models.industry_data.user_configuration import UserConfiguration
from msgraph_beta.generated.models.industry_data.user_creation_options import UserCreationOptions
from msgraph_beta.generated.models.industry_data.user_management_options import UserManagementOptions
from msgraph_beta.generated.models.industry_data.user_provisioning_flow import UserProvisioningFlow

from helpers import assert_same, delete_quietly, expect_error, graph_client, idd, ids, list_all, query, unique, wire

ORG_EXTERNAL_IDS = ["Quarter", "Demo"]
STAFF_PASSWORD = "Staff-Initial-Pa55!"
STUDENT_PASSWORD = "Student-Initial-Pa55!"
# Seconds to wait before a PATCH so that lastModifiedDateTime must visibly advance,
# even on a server that keeps whole-second timestamps.
CLOCK_TICK_S = 1.1


# --- request builders -------------------------------------------------------------------------

def flow_sets(client):
    return idd(client).outbound_provisioning_flow_sets


def flow_set_item(client, set_id: str):
    return flow_sets(client).by_outbound_provisioning_flow_set_id(set_id)


def flows_of(client, set_id: str):
    return flow_set_item(client, set_id).provisioning_flows


def flow_item(client, set_id: str, flow_id: str):
    return flows_of(client, set_id).by_provisioning_flow_id(flow_id)


# --- request bodies (SDK model objects) ---------------------------------------------------------

def flow_set_body(name: str | None = None) -> OutboundProvisioningFlowSet:
    return OutboundProvisioningFlowSet(
        display_name=name or unique("Outbound set"),
        filter=BasicFilter(attribute=FilterOptions.OrgExternalId, in_=list(ORG_EXTERNAL_IDS)),
    )


def section_roles(*codes: str) -> list[SectionRoleReferenceValue]:
    return [SectionRoleReferenceValue(code=code) for code in codes]


def admin_unit_flow(_base: str) -> AdministrativeUnitProvisioningFlow:
    return AdministrativeUnitProvisioningFlow(
        creation_options=AdminUnitCreationOptions(create_based_on_org=True, create_based_on_org_plus_role_group=True)
    )


def class_group_flow(_base: str, owners: tuple[str, ...] = ("teacher", "proctor", "staff")) -> ClassGroupProvisioningFlow:
    return ClassGroupProvisioningFlow(
        configuration=ClassGroupConfiguration(
            additional_attributes=[ClassAttr.CourseTitle, ClassAttr.CourseCode, ClassAttr.CourseSubject,
                                   ClassAttr.CourseGradeLevel, ClassAttr.CourseExternalId,
                                   ClassAttr.AcademicSessionTitle, ClassAttr.AcademicSessionExternalId],
            additional_options=AdditionalClassGroupOptions(create_team=True, write_display_name_on_create_only=True),
            enrollment_mappings=EnrollmentMappings(
                owner_enrollment_mappings=section_roles(*owners),
                member_enrollment_mappings=section_roles("student", "substitute", "aide", "proctor"),
            ),
        )
    )


def security_group_flow(_base: str) -> SecurityGroupProvisioningFlow:
    return SecurityGroupProvisioningFlow(
        creation_options=SecurityGroupCreationOptions(create_based_on_role_group=True,
                                                      create_based_on_org_plus_role_group=False)
    )


def user_configuration(bind_url: str, password: str, sku: str) -> UserConfiguration:
    return UserConfiguration(
        additional_data={"roleGroup@odata.bind": bind_url},
        default_password_settings=SimplePasswordSettings(password=password),
        license_skus=[sku],
    )


def user_flow(base: str) -> UserProvisioningFlow:
    return UserProvisioningFlow(
        create_unmatched_users=True,
        creation_options=UserCreationOptions(configurations=[
            user_configuration(f"{base}/roleGroups/staff", STAFF_PASSWORD, "Sku1"),
            user_configuration(f"{base}/roleGroups('students')", STUDENT_PASSWORD, "Sku2"),
        ]),
        management_options=UserManagementOptions(
            additional_attributes=[AdditionalUserAttributes.UserGradeLevel, AdditionalUserAttributes.UserNumber],
            additional_options=AdditionalUserOptions(allow_student_contact_association=False,
                                                     student_age_group=StudentAgeGroup.Minor),
        ),
    )


def class_group_update_seed() -> ClassGroupProvisioningFlow:
    """The body of the docs' "Update classGroupProvisioningFlow" example, @odata.type annotations included
    (SectionRoleReferenceValue carries its own by default)."""
    return ClassGroupProvisioningFlow(
        configuration=ClassGroupConfiguration(
            odata_type="#microsoft.graph.industryData.classGroupConfiguration",
            additional_attributes=[ClassAttr.CourseTitle, ClassAttr.CourseCode],
            additional_options=AdditionalClassGroupOptions(
                odata_type="#microsoft.graph.industryData.additionalClassGroupOptions",
                create_team=False,
                write_display_name_on_create_only=False,
            ),
            enrollment_mappings=EnrollmentMappings(
                odata_type="#microsoft.graph.industryData.enrollmentMappings",
                member_enrollment_mappings=section_roles("substitute"),
                owner_enrollment_mappings=section_roles("teacher"),
            ),
        )
    )


@dataclass(frozen=True)
class FlowKind:
    name: str
    cls: type
    body: Callable[[str], ProvisioningFlow]  # industryData base URL (for @odata.bind) -> request body


KINDS = [
    FlowKind("administrativeUnit", AdministrativeUnitProvisioningFlow, admin_unit_flow),
    FlowKind("classGroup", ClassGroupProvisioningFlow, class_group_flow),
    FlowKind("securityGroup", SecurityGroupProvisioningFlow, security_group_flow),
    FlowKind("user", UserProvisioningFlow, user_flow),
]
FLOW_CLASSES = {kind.cls for kind in KINDS}
each_kind = pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.name)


def flow_properties(flow: ProvisioningFlow) -> dict:
    """Every writable property of a flow as JSON, minus what a server never echoes verbatim:
    the id, role-group bindings or expansions, and password values (masked on read)."""
    data = wire(flow)
    data.pop("id", None)
    for config in data.get("creationOptions", {}).get("configurations", []):
        config.pop("roleGroup", None)
        config.get("defaultPasswordSettings", {}).pop("password", None)
    return data


# --- fixtures -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def base(rosterflow) -> str:
    return rosterflow.industry_data_url


@pytest.fixture(scope="module")
async def flow_set(client):
    """One set holding one flow of every type (see `flows`); read-mostly, shared by the module."""
    created = await flow_sets(client).post(flow_set_body())
    yield created
    await delete_quietly(flow_set_item(client, created.id))


@pytest.fixture(scope="module")
async def flows(client, flow_set, base) -> dict[str, tuple[ProvisioningFlow, ProvisioningFlow]]:
    """kind name -> (body sent, entity returned by the POST)."""
    created = {}
    for kind in KINDS:
        sent = kind.body(base)
        created[kind.name] = (sent, await flows_of(client, flow_set.id).post(sent))
    return created


@pytest.fixture
async def fresh_set(client):
    """An empty set of the test's own, removed afterwards."""
    created = await flow_sets(client).post(flow_set_body())
    yield created
    await delete_quietly(flow_set_item(client, created.id))


@pytest.fixture(scope="module")
async def guarded(client, base):
    """(set id, class-group flow id) that other principals attack; isolated so a leak cannot break other tests."""
    created = await flow_sets(client).post(flow_set_body(unique("Guarded set")))
    flow = await flows_of(client, created.id).post(class_group_flow(base))
    yield created.id, flow.id
    await delete_quietly(flow_set_item(client, created.id))


# --- flow sets ----------------------------------------------------------------------------------

async def test_create_flow_set_assigns_server_fields(flow_set):
    assert isinstance(flow_set, OutboundProvisioningFlowSet)
    assert flow_set.id
    assert flow_set.created_date_time is not None and flow_set.created_date_time.tzinfo is not None
    assert flow_set.last_modified_date_time >= flow_set.created_date_time
    assert isinstance(flow_set.filter, BasicFilter)
    assert flow_set.filter.attribute == FilterOptions.OrgExternalId
    assert flow_set.filter.in_ == ORG_EXTERNAL_IDS


async def test_get_flow_set_round_trips(client, flow_set):
    got = await flow_set_item(client, flow_set.id).get()
    assert isinstance(got.filter, BasicFilter)
    assert wire(got) == wire(flow_set)
    assert (got.created_date_time, got.last_modified_date_time) == (
        flow_set.created_date_time, flow_set.last_modified_date_time)


async def test_patch_flow_set_merges_display_name(client, fresh_set):
    await asyncio.sleep(CLOCK_TICK_S)
    new_name = unique("Outbound set renamed")
    assert await flow_set_item(client, fresh_set.id).patch(OutboundProvisioningFlowSet(display_name=new_name)) is None

    got = await flow_set_item(client, fresh_set.id).get()
    assert got.display_name == new_name
    assert wire(got.filter) == wire(fresh_set.filter), "PATCH without filter must keep the filter"
    assert got.created_date_time == fresh_set.created_date_time
    assert got.last_modified_date_time > fresh_set.last_modified_date_time


async def test_list_flow_sets_pages_and_counts(client, flow_set):
    extra = [await flow_sets(client).post(flow_set_body()) for _ in range(2)]
    try:
        items, pages = await list_all(flow_sets(client), top=2)
        total = await flow_sets(client).count.get()
        counted = await flow_sets(client).get(query(flow_sets(client), count=True))
    finally:
        for created in extra:
            await delete_quietly(flow_set_item(client, created.id))

    assert len(pages) >= 2 and all(len(page.value) <= 2 for page in pages)
    assert len(set(ids(items))) == len(items), "a set appeared on two pages"
    assert {flow_set.id, *ids(extra)} <= set(ids(items))
    assert all(isinstance(item, OutboundProvisioningFlowSet) for item in items)
    assert total == len(items) == counted.odata_count


async def test_filter_and_select_flow_sets(client, flow_set):
    builder = flow_sets(client)
    page = await builder.get(query(builder, filter=f"displayName eq '{flow_set.display_name}'", select=["displayName"]))
    assert [item.display_name for item in page.value] == [flow_set.display_name]
    assert page.value[0].filter is None, "$select=displayName must leave filter out"
    assert page.value[0].created_date_time is None, "$select=displayName must leave createdDateTime out"


# --- provisioning flows -------------------------------------------------------------------------

@each_kind
async def test_create_flow_returns_typed_entity(flows, kind):
    sent, created = flows[kind.name]
    assert type(created) is kind.cls, "@odata.type discriminator missing or wrong in the POST response"
    assert created.id
    assert created.readiness_status == ReadinessStatus.NotReady
    assert created.created_date_time is not None and created.created_date_time.tzinfo is not None
    assert created.last_modified_date_time >= created.created_date_time
    assert flow_properties(created) == flow_properties(sent)


@each_kind
async def test_get_flow_round_trips(client, flow_set, flows, kind):
    _, created = flows[kind.name]
    got = await flow_item(client, flow_set.id, created.id).get()
    assert type(got) is kind.cls
    assert got.id == created.id
    assert got.created_date_time == created.created_date_time
    assert got.readiness_status is not None
    assert flow_properties(got) == flow_properties(created)


async def test_user_flow_masks_passwords(client, flow_set, flows):
    _, created = flows["user"]
    got = await flow_item(client, flow_set.id, created.id).get()
    for flow in (created, got):
        for config in flow.creation_options.configurations:
            assert isinstance(config.default_password_settings, SimplePasswordSettings)
            assert config.default_password_settings.password not in (STAFF_PASSWORD, STUDENT_PASSWORD)


async def test_user_flow_get_expands_bound_role_groups(client, flow_set, flows):
    _, created = flows["user"]
    got = await flow_item(client, flow_set.id, created.id).get()
    bound = [config.role_group.id if config.role_group else None for config in got.creation_options.configurations]
    assert bound == ["staff", "students"]


async def test_patch_class_group_flow_with_doc_seed(client, fresh_set, base):
    flow = await flows_of(client, fresh_set.id).post(class_group_flow(base))
    await asyncio.sleep(CLOCK_TICK_S)
    seed = class_group_update_seed()

    assert await flow_item(client, fresh_set.id, flow.id).patch(seed) is None  # 204 No Content

    got = await flow_item(client, fresh_set.id, flow.id).get()
    assert type(got) is ClassGroupProvisioningFlow
    assert got.id == flow.id
    assert_same(seed.configuration, got.configuration)
    assert got.configuration.additional_attributes == [ClassAttr.CourseTitle, ClassAttr.CourseCode]
    assert got.configuration.additional_options.create_team is False
    assert got.configuration.additional_options.write_display_name_on_create_only is False
    assert [r.code for r in got.configuration.enrollment_mappings.member_enrollment_mappings] == ["substitute"]
    assert [r.code for r in got.configuration.enrollment_mappings.owner_enrollment_mappings] == ["teacher"]
    assert got.created_date_time == flow.created_date_time
    assert got.readiness_status is not None
    assert got.last_modified_date_time > flow.last_modified_date_time


async def test_list_flows_with_count_is_polymorphic(client, flow_set, flows):
    builder = flows_of(client, flow_set.id)
    page = await builder.get(query(builder, count=True))
    assert page.odata_count == len(KINDS)
    assert {type(item) for item in page.value} == FLOW_CLASSES
    assert set(ids(page.value)) == {created.id for _, created in flows.values()}


async def test_list_flows_pages_with_top_and_next_link(client, flow_set, flows):
    items, pages = await list_all(flows_of(client, flow_set.id), top=1)
    assert pages[0].odata_next_link, "$top=1 over four flows must return @odata.nextLink"
    assert len(pages) == len(KINDS) and all(len(page.value) == 1 for page in pages)
    assert sorted(ids(items)) == sorted(created.id for _, created in flows.values())
    assert {type(item) for item in items} == FLOW_CLASSES


async def test_count_segment(client, flow_set, flows):
    assert await flows_of(client, flow_set.id).count.get() == len(KINDS)


async def test_select_on_flow_keeps_type(client, flow_set, flows):
    _, created = flows["classGroup"]
    builder = flow_item(client, flow_set.id, created.id)
    got = await builder.get(query(builder, select=["readinessStatus"]))
    assert type(got) is ClassGroupProvisioningFlow
    assert got.readiness_status is not None
    assert got.configuration is None, "$select=readinessStatus must leave configuration out"


@each_kind
async def test_reset_flow(client, flow_set, flows, kind):
    _, created = flows[kind.name]
    assert await flow_item(client, flow_set.id, created.id).microsoft_graph_industry_data_reset.post() is None


@each_kind
async def test_second_flow_of_same_type_conflicts(client, flow_set, flows, base, kind):
    await expect_error(409, flows_of(client, flow_set.id).post(kind.body(base)))


async def test_invalid_section_role_code_is_rejected(client, fresh_set, base):
    bad = class_group_flow(base, owners=("teacher", "notASectionRole"))
    await expect_error(400, flows_of(client, fresh_set.id).post(bad))
    assert await flows_of(client, fresh_set.id).count.get() == 0


async def test_delete_flow_then_set(client, fresh_set, base):
    flow = await flows_of(client, fresh_set.id).post(security_group_flow(base))

    assert await flow_item(client, fresh_set.id, flow.id).delete() is None
    await expect_error(404, flow_item(client, fresh_set.id, flow.id).get())
    assert await flows_of(client, fresh_set.id).count.get() == 0

    assert await flow_set_item(client, fresh_set.id).delete() is None
    await expect_error(404, flow_set_item(client, fresh_set.id).get())
    await expect_error(404, flows_of(client, fresh_set.id).get())
    await expect_error(404, flow_set_item(client, fresh_set.id).delete())


# --- authorization and tenant isolation ---------------------------------------------------------

# Every write a principal could attempt on `guarded`: (client, base, set id, flow id) -> awaitable.
Attempt = Callable[[object, str, str, str], Awaitable]
WRITES: dict[str, Attempt] = {
    "create set": lambda c, b, s, f: flow_sets(c).post(flow_set_body()),
    "patch set": lambda c, b, s, f: flow_set_item(c, s).patch(OutboundProvisioningFlowSet(display_name=unique("x"))),
    "delete set": lambda c, b, s, f: flow_set_item(c, s).delete(),
    "create flow": lambda c, b, s, f: flows_of(c, s).post(user_flow(b)),
    "patch flow": lambda c, b, s, f: flow_item(c, s, f).patch(class_group_update_seed()),
    "delete flow": lambda c, b, s, f: flow_item(c, s, f).delete(),
    "reset flow": lambda c, b, s, f: flow_item(c, s, f).microsoft_graph_industry_data_reset.post(),
}
READS: dict[str, Attempt] = {
    "get set": lambda c, b, s, f: flow_set_item(c, s).get(),
    "list flows": lambda c, b, s, f: flows_of(c, s).get(),
    "count flows": lambda c, b, s, f: flows_of(c, s).count.get(),
    "get flow": lambda c, b, s, f: flow_item(c, s, f).get(),
}
CROSS_TENANT = {name: attempt for name, attempt in {**READS, **WRITES}.items() if name != "create set"}


@pytest.mark.parametrize("attempt", WRITES.values(), ids=WRITES.keys())
async def test_read_only_token_cannot_write(reader, base, guarded, attempt):
    await expect_error(403, attempt(reader, base, *guarded))


@pytest.mark.parametrize("attempt", READS.values(), ids=READS.keys())
async def test_read_only_token_can_read(reader, base, guarded, attempt):
    await attempt(reader, base, *guarded)


@pytest.mark.parametrize("attempt", CROSS_TENANT.values(), ids=CROSS_TENANT.keys())
async def test_other_tenant_gets_404(other_tenant, base, guarded, attempt):
    await expect_error(404, attempt(other_tenant, base, *guarded))


async def test_other_tenant_list_excludes_our_sets(client, other_tenant, guarded):
    theirs, _ = await list_all(flow_sets(other_tenant))
    assert guarded[0] not in ids(theirs)
    assert await flow_set_item(client, guarded[0]).get() is not None, "our set must survive the other tenant"


@pytest.mark.parametrize("kind", ["scopes", "roles"], ids=["delegated", "application"])
async def test_readwrite_permission_alone_reads_and_writes(rosterflow, graph, guarded, kind):
    token = rosterflow.token("contoso", **{kind: ["IndustryData-OutboundFlow.ReadWrite.All"]})
    client = graph(token)
    assert guarded[1] in ids((await flows_of(client, guarded[0]).get()).value)
    created = await flow_sets(client).post(flow_set_body())
    assert await flow_set_item(client, created.id).delete() is None


async def test_bad_token_is_401(rosterflow, guarded):
    client = graph_client(rosterflow.base_url, "not-a-jwt")
    await expect_error(401, flow_set_item(client, guarded[0]).get())

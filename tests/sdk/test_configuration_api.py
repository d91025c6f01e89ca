"""Phase 2 entity sets (sourceSystems, years, dataConnectors, inboundFlows, referenceDefinitions,
roleGroups, runs, operations), driven by the official Python beta SDK.

Skipped as a whole when ROSTERFLOW_SDK_PHASE=1.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Callable

import pytest
from kiota_abstractions.serialization import Parsable
from msgraph_beta.generated.models.industry_data.api_format import ApiFormat
from msgraph_beta.generated.models.industry_data.azure_data_lake_connector import AzureDataLakeConnector
from msgraph_beta.generated.models.industry_data.file_format_reference_value import FileFormatReferenceValue
from msgraph_beta.generated.models.industry_data.identifier_type_reference_value import IdentifierTypeReferenceValue
from msgraph_beta.generated.models.industry_data.inbound_domain import InboundDomain
from msgraph_beta.generated.models.industry_data.inbound_file_flow import InboundFileFlow
from msgraph_beta.generated.models.industry_data.o_auth2_client_credential import OAuth2ClientCredential
from msgraph_beta.generated.models.industry_data.one_roster_api_data_connector import OneRosterApiDataConnector
from msgraph_beta.generated.models.industry_data.reference_definition import ReferenceDefinition
from msgraph_beta.generated.models.industry_data.role_group import RoleGroup
from msgraph_beta.generated.models.industry_data.role_reference_value import RoleReferenceValue
from msgraph_beta.generated.models.industry_data.source_system_definition import SourceSystemDefinition
from msgraph_beta.generated.models.industry_data.user_match_target_reference_value import (
    UserMatchTargetReferenceValue,
)
from msgraph_beta.generated.models.industry_data.user_matching_setting import UserMatchingSetting
from msgraph_beta.generated.models.industry_data.year_reference_value import YearReferenceValue
from msgraph_beta.generated.models.industry_data.year_time_period_definition import YearTimePeriodDefinition

from helpers import PHASE_1_ONLY, delete_quietly, expect_error, idd, ids, list_all, unique, wire

pytestmark = [
    pytest.mark.phase2,
    pytest.mark.skipif(PHASE_1_ONLY,
                       reason="phase 1 run (ROSTERFLOW_SDK_PHASE=1): configuration entity sets not built yet"),
]

CLIENT_SECRET = "thisIsASecret-" + uuid.uuid4().hex
UTC = dt.timezone.utc


# --- request builders -------------------------------------------------------------------------

@dataclass(frozen=True)
class EntitySet:
    """An /external/industryData collection: its builder attribute and its item-accessor name."""
    attr: str
    by_id: str

    def of(self, client):
        return getattr(idd(client), self.attr)

    def item(self, client, key: str):
        return getattr(self.of(client), self.by_id)(key)


SOURCE_SYSTEMS = EntitySet("source_systems", "by_source_system_definition_id")
YEARS = EntitySet("years", "by_year_time_period_definition_id")
DATA_CONNECTORS = EntitySet("data_connectors", "by_industry_data_connector_id")
INBOUND_FLOWS = EntitySet("inbound_flows", "by_inbound_flow_id")
REFERENCE_DEFINITIONS = EntitySet("reference_definitions", "by_reference_definition_id")
ROLE_GROUPS = EntitySet("role_groups", "by_role_group_id")
RUNS = EntitySet("runs", "by_industry_data_run_id")
OPERATIONS = EntitySet("operations", "by_long_running_operation_id")


# --- request bodies (SDK model objects) ---------------------------------------------------------

@dataclass
class Deps:
    """Entities other bodies bind to, plus the absolute industryData URL used in @odata.bind."""
    base: str
    source_system: SourceSystemDefinition
    year: YearTimePeriodDefinition
    connector: AzureDataLakeConnector

    def bind(self, entity_set: str, key: str) -> str:
        return f"{self.base}/{entity_set}/{key}"


def matching(base: str, role_group_ref: str, priority: int, source_code: str) -> UserMatchingSetting:
    return UserMatchingSetting(
        additional_data={"roleGroup@odata.bind": f"{base}/roleGroups{role_group_ref}"},
        match_target=UserMatchTargetReferenceValue(code="userPrincipalName"),
        priority_order=priority,
        source_identifier=IdentifierTypeReferenceValue(code=source_code),
    )


def source_system_body(base: str) -> SourceSystemDefinition:
    return SourceSystemDefinition(
        display_name=unique("Rostering source"),
        user_matching_settings=[matching(base, "/staff", 0, "username"),
                                matching(base, "('students')", 1, "username")],
    )


def year_body() -> YearTimePeriodDefinition:
    return YearTimePeriodDefinition(display_name=unique("Fiscal Year 2022"), start_date=dt.date(2022, 9, 1),
                                    end_date=dt.date(2023, 6, 15), year=YearReferenceValue(code="2022"))


def lake_connector_body(deps_base: str, source_system_id: str) -> AzureDataLakeConnector:
    return AzureDataLakeConnector(
        display_name=unique("CSV connector"),
        additional_data={"sourceSystem@odata.bind": f"{deps_base}/sourceSystems/{source_system_id}"},
        file_format=FileFormatReferenceValue(code="schoolDataSyncV2Rev1"),
    )


def one_roster_body(deps: Deps) -> OneRosterApiDataConnector:
    return OneRosterApiDataConnector(
        display_name=unique("Generic OAuth2 Connector"),
        additional_data={"sourceSystem@odata.bind": deps.bind("sourceSystems", deps.source_system.id)},
        api_format=ApiFormat.OneRoster,
        base_url="https://fakeProvider.net/ims/oneroster/v1p1",
        api_version="1.1",
        credential=OAuth2ClientCredential(
            display_name="One Roster API Credentials",
            client_id="530be723-6af4-4952-8f05-d2f1bb5d2b39",
            client_secret=CLIENT_SECRET,
            token_url="https://login.microsoftonline.com/contoso/oauth2/token",
        ),
        is_contacts_enabled=False,
        is_demographics_enabled=True,
        is_flags_enabled=False,
    )


def inbound_flow_body(deps: Deps, effective: dt.datetime | None = None) -> InboundFileFlow:
    effective = effective or dt.datetime(2023, 3, 12, 11, 10, 46, 924769, tzinfo=UTC)
    return InboundFileFlow(
        display_name=unique("Inbound rostering flow"),
        additional_data={"dataConnector@odata.bind": deps.bind("dataConnectors", deps.connector.id),
                         "year@odata.bind": deps.bind("years", deps.year.id)},
        data_domain=InboundDomain.EducationRostering,
        effective_date_time=effective,
        expiration_date_time=effective + dt.timedelta(days=365),
    )


def grade_level_body() -> ReferenceDefinition:
    # code and sortIndex must be unique within RefGradeLevel, also across runs on a shared database
    return ReferenceDefinition(reference_type="RefGradeLevel", code=f"TestGrade{uuid.uuid4().hex[:8]}",
                               is_disabled=False, sort_index=1000 + uuid.uuid4().int % 1_000_000_000,
                               display_name="New Test Grade Level")


@dataclass(frozen=True)
class Resource:
    """A writable entity set exercised by the generic tests below."""
    name: str
    entity_set: EntitySet
    cls: type
    create: Callable[[Deps], Parsable]
    patch: Callable[[], Parsable]
    soft_delete: bool = False          # DELETE disables instead of removing


RESOURCES = [
    Resource("sourceSystem", SOURCE_SYSTEMS, SourceSystemDefinition, lambda d: source_system_body(d.base),
             lambda: SourceSystemDefinition(vendor="LMS Vendor")),
    Resource("year", YEARS, YearTimePeriodDefinition, lambda d: year_body(),
             lambda: YearTimePeriodDefinition(display_name=unique("Fiscal Year renamed"))),
    Resource("azureDataLakeConnector", DATA_CONNECTORS, AzureDataLakeConnector,
             lambda d: lake_connector_body(d.base, d.source_system.id),
             lambda: AzureDataLakeConnector(display_name=unique("API Monitor"))),
    Resource("oneRosterApiDataConnector", DATA_CONNECTORS, OneRosterApiDataConnector, one_roster_body,
             lambda: OneRosterApiDataConnector(display_name=unique("OneRoster renamed"))),
    Resource("inboundFileFlow", INBOUND_FLOWS, InboundFileFlow, inbound_flow_body,
             lambda: InboundFileFlow(display_name=unique("Updated flow name"))),
    Resource("referenceDefinition", REFERENCE_DEFINITIONS, ReferenceDefinition, lambda d: grade_level_body(),
             lambda: ReferenceDefinition(display_name=unique("Updated Test Grade Name")), soft_delete=True),
]
each_resource = pytest.mark.parametrize("res", RESOURCES, ids=lambda res: res.name)


def echoed(sent: Parsable) -> dict:
    """What a response must echo of `sent`: its JSON minus bindings (`@odata.*`) and the write-only clientSecret."""
    data = wire(sent)
    data.get("credential", {}).pop("clientSecret", None)
    return data


def project(actual, expected):
    """`actual` cut down to the shape of `expected` (extra server-side keys, e.g. expansions, dropped)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        return {key: project(actual.get(key), value) for key, value in expected.items()}
    if isinstance(expected, list) and isinstance(actual, list) and len(actual) == len(expected):
        return [project(a, e) for a, e in zip(actual, expected)]
    return actual


def assert_echoes(sent: Parsable, got: Parsable) -> None:
    expected = echoed(sent)
    assert project(wire(got), expected) == expected


def assert_no_secret(*entities: Parsable) -> None:
    for entity in entities:
        assert CLIENT_SECRET not in json.dumps(wire(entity), default=str), "clientSecret leaked in a response"
        credential = getattr(entity, "credential", None)  # absent on file connectors
        assert credential is None or credential.client_secret is None


# --- fixtures -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
async def deps(client, rosterflow):
    base = rosterflow.industry_data_url
    source_system = await SOURCE_SYSTEMS.of(client).post(source_system_body(base))
    year = await YEARS.of(client).post(year_body())
    connector = await DATA_CONNECTORS.of(client).post(lake_connector_body(base, source_system.id))
    yield Deps(base, source_system, year, connector)
    await delete_quietly(DATA_CONNECTORS.item(client, connector.id))
    await delete_quietly(YEARS.item(client, year.id))
    await delete_quietly(SOURCE_SYSTEMS.item(client, source_system.id))


@pytest.fixture
async def created(client, deps, res):
    """A fresh entity of `res` (the POST response), deleted afterwards."""
    entity = await res.entity_set.of(client).post(res.create(deps))
    yield entity
    await delete_quietly(res.entity_set.item(client, entity.id))


# --- generic lifecycle over every writable entity set -------------------------------------------

@each_resource
async def test_create_returns_typed_entity(client, deps, res):
    sent = res.create(deps)
    entity = await res.entity_set.of(client).post(sent)
    try:
        assert type(entity) is res.cls, "@odata.type missing or wrong in the POST response"
        assert entity.id
        assert_echoes(sent, entity)
    finally:
        await delete_quietly(res.entity_set.item(client, entity.id))


@each_resource
async def test_get_round_trips(client, res, created):
    got = await res.entity_set.item(client, created.id).get()
    assert type(got) is res.cls
    assert got.id == created.id
    assert wire(got) == wire(created)


@each_resource
async def test_patch_merges(client, res, created):
    patch = res.patch()
    assert await res.entity_set.item(client, created.id).patch(patch) is None  # 204 No Content
    got = await res.entity_set.item(client, created.id).get()
    assert type(got) is res.cls
    assert wire(got) == {**wire(created), **wire(patch)}, "PATCH must change the sent properties and keep the rest"


@each_resource
async def test_list_and_count_include_entity(client, res, created):
    items, _ = await list_all(res.entity_set.of(client))
    assert created.id in ids(items)
    assert await res.entity_set.of(client).count.get() == len(items)


@each_resource
async def test_delete(client, res, created):
    item = res.entity_set.item(client, created.id)
    assert await item.delete() is None
    if res.soft_delete:
        assert (await item.get()).is_disabled is True
    else:
        await expect_error(404, item.get())


@each_resource
async def test_read_only_token_cannot_create(reader, deps, res):
    await expect_error(403, res.entity_set.of(reader).post(res.create(deps)))


@each_resource
async def test_other_tenant_gets_404(other_tenant, res, created):
    await expect_error(404, res.entity_set.item(other_tenant, created.id).get())
    await expect_error(404, res.entity_set.item(other_tenant, created.id).patch(res.patch()))
    await expect_error(404, res.entity_set.item(other_tenant, created.id).delete())


# --- dataConnectors -----------------------------------------------------------------------------

async def test_connector_binds_source_system(client, deps):
    bound = await DATA_CONNECTORS.item(client, deps.connector.id).source_system.get()
    assert isinstance(bound, SourceSystemDefinition)
    assert bound.id == deps.source_system.id


async def test_one_roster_client_secret_is_never_returned(client, deps):
    posted = await DATA_CONNECTORS.of(client).post(one_roster_body(deps))
    try:
        got = await DATA_CONNECTORS.item(client, posted.id).get()
        listed, _ = await list_all(DATA_CONNECTORS.of(client))
        assert isinstance(got.credential, OAuth2ClientCredential)
        assert got.credential.client_id == "530be723-6af4-4952-8f05-d2f1bb5d2b39"
        assert_no_secret(posted, got, *listed)
    finally:
        await delete_quietly(DATA_CONNECTORS.item(client, posted.id))


async def test_list_connectors_is_polymorphic(client, deps):
    posted = await DATA_CONNECTORS.of(client).post(one_roster_body(deps))
    try:
        listed, _ = await list_all(DATA_CONNECTORS.of(client))
        classes = {item.id: type(item) for item in listed}
        assert classes[deps.connector.id] is AzureDataLakeConnector
        assert classes[posted.id] is OneRosterApiDataConnector
    finally:
        await delete_quietly(DATA_CONNECTORS.item(client, posted.id))


# --- inboundFlows -------------------------------------------------------------------------------

async def test_inbound_flow_binds_connector_and_year(client, deps):
    flow = await INBOUND_FLOWS.of(client).post(inbound_flow_body(deps))
    try:
        assert flow.readiness_status is not None
        connector = await INBOUND_FLOWS.item(client, flow.id).data_connector.get()
        year = await INBOUND_FLOWS.item(client, flow.id).year.get()
        assert (type(connector), connector.id) == (AzureDataLakeConnector, deps.connector.id)
        assert (type(year), year.id) == (YearTimePeriodDefinition, deps.year.id)
    finally:
        await delete_quietly(INBOUND_FLOWS.item(client, flow.id))


async def test_inbound_flow_keeps_the_instant_of_offset_times(client, deps):
    ist = dt.timezone(dt.timedelta(hours=5, minutes=30))
    effective = dt.datetime(2023, 3, 12, 16, 40, 46, 924769, tzinfo=ist)  # the docs' example value
    flow = await INBOUND_FLOWS.of(client).post(inbound_flow_body(deps, effective))
    try:
        assert flow.effective_date_time == effective  # aware datetimes compare as instants
        assert flow.expiration_date_time == effective + dt.timedelta(days=365)
    finally:
        await delete_quietly(INBOUND_FLOWS.item(client, flow.id))


# --- referenceDefinitions -----------------------------------------------------------------------

async def test_built_in_reference_definitions(client):
    items, _ = await list_all(REFERENCE_DEFINITIONS.of(client))
    assert items, "the service ships built-in reference definitions"
    assert all(item.id == f"{item.reference_type}-{item.code}" for item in items)
    assert "RefGradeLevel" in {item.reference_type for item in items}
    first = await REFERENCE_DEFINITIONS.item(client, items[0].id).get()
    assert wire(first) == wire(items[0])


async def test_custom_reference_definition_is_tenant_defined(client, deps):
    sent = grade_level_body()
    created = await REFERENCE_DEFINITIONS.of(client).post(sent)
    try:
        assert created.id == f"RefGradeLevel-{sent.code}"
        assert created.source == "Tenant Defined"
        assert created.created_date_time is not None
    finally:
        await delete_quietly(REFERENCE_DEFINITIONS.item(client, created.id))


# --- roleGroups, runs, operations ---------------------------------------------------------------

async def test_role_groups(client):
    items, _ = await list_all(ROLE_GROUPS.of(client))
    assert {"staff", "students"} <= set(ids(items))
    staff = await ROLE_GROUPS.item(client, "staff").get()
    assert isinstance(staff, RoleGroup) and staff.display_name == "Staff"
    assert all(isinstance(role, RoleReferenceValue) for role in staff.roles)
    assert "teacher" in {role.code for role in staff.roles}


@pytest.mark.parametrize("entity_set", [RUNS, OPERATIONS], ids=["runs", "operations"])
async def test_empty_collections(client, entity_set):
    page = await entity_set.of(client).get()
    assert page.value == []

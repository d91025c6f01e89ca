"""The directory (users, education classes with members and teachers), driven by the official Python beta SDK.

Users are created, read by id and by userPrincipalName, paged, filtered, counted (with ConsistencyLevel:
eventual, as Graph's advanced queries need) and deleted. Classes are seeded through the education write
path rosterflow serves (POST /education/users, POST /education/classes, members/teachers $ref), as a test
setup or an administrator would; a run writes the same objects through the store's bulk API.
"""

from __future__ import annotations

import uuid

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.headers_collection import HeadersCollection
from msgraph_beta.generated.models.education_class import EducationClass
from msgraph_beta.generated.models.education_student import EducationStudent
from msgraph_beta.generated.models.education_teacher import EducationTeacher
from msgraph_beta.generated.models.education_user import EducationUser
from msgraph_beta.generated.models.education_user_role import EducationUserRole
from msgraph_beta.generated.models.password_profile import PasswordProfile
from msgraph_beta.generated.models.reference_create import ReferenceCreate
from msgraph_beta.generated.models.user import User

from helpers import expect_error

PASSWORD = "Initial-Pa55!"


def eventual(builder, **params) -> RequestConfiguration:
    """Query options plus `ConsistencyLevel: eventual` (advanced queries on directory objects)."""
    params_type = next((v for k, v in vars(type(builder)).items() if k.endswith("GetQueryParameters")), None)
    config = RequestConfiguration(query_parameters=params_type(**params) if params_type else None)
    headers = HeadersCollection()
    headers.add("ConsistencyLevel", "eventual")
    config.headers = headers
    return config


@pytest.fixture(scope="module")
def tenant() -> str:
    return f"dir-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def users_client(rosterflow, graph, tenant):
    return graph(rosterflow.token(tenant, scopes=["User.ReadWrite.All"]))


@pytest.fixture(scope="module")
def edu_app(rosterflow, graph, tenant):
    """An application with the education roster permissions (class members need Member.Read.Hidden)."""
    roles = ["EduRoster.ReadWrite.All", "Member.Read.Hidden"]
    return graph(rosterflow.token(tenant, roles=roles))


def new_user(upn: str, name: str) -> User:
    return User(
        account_enabled=True,
        display_name=name,
        mail_nickname=upn.split("@")[0],
        user_principal_name=upn,
        password_profile=PasswordProfile(force_change_password_next_sign_in=True, password=PASSWORD),
    )


async def test_users_create_read_page_filter_count_and_delete(users_client, rosterflow, graph):
    c = users_client
    run = uuid.uuid4().hex[:6]
    created = []
    for i in range(5):
        u = await c.users.post(new_user(f"sdk{i}.{run}@contoso.test", f"Sdk {run} {i}"))
        assert u.id and u.id == u.id.lower() and u.password_profile is None
        created.append(u)
    first = created[0]
    by_id = await c.users.by_user_id(first.id).get()
    assert by_id.user_principal_name == first.user_principal_name
    by_upn = await c.users.by_user_id(first.user_principal_name.upper()).get()
    assert by_upn.id == first.id

    # Paging: $top is the page size; the SDK follows @odata.nextLink verbatim.
    flt = f"startswith(displayName,'sdk {run}')"
    page = await c.users.get(eventual(c.users, top=2, filter=flt, count=True, orderby=["displayName desc"]))
    assert page.odata_count == 5
    names = [u.display_name for u in page.value]
    while page.odata_next_link:
        page = await c.users.with_url(page.odata_next_link).get(eventual(c.users))
        assert page.odata_count is None
        names += [u.display_name for u in page.value]
    assert names == [f"Sdk {run} {i}" for i in reversed(range(5))]

    # /$count with ConsistencyLevel; without it Graph's advanced-query rule answers 400.
    assert await c.users.count.get(eventual(c.users.count, filter=flt)) == 5
    await expect_error(400, c.users.count.get())

    # $filter on a UPN and $select.
    one = await c.users.get(eventual(c.users, filter=f"userPrincipalName eq '{first.user_principal_name}'", select=["id", "mail"]))
    assert [u.id for u in one.value] == [first.id]

    # Duplicate UPN → 409; delete → 404 afterwards; another tenant sees nothing.
    await expect_error(409, c.users.post(new_user(first.user_principal_name, "Dup")))
    other = graph(rosterflow.token(f"other-{run}", scopes=["User.ReadWrite.All"]))
    await expect_error(404, other.users.by_user_id(first.id).get())
    for u in created:
        await c.users.by_user_id(u.id).delete()
    await expect_error(404, c.users.by_user_id(first.id).get())


async def test_classes_read_with_members_and_teachers(edu_app):
    c = edu_app
    run = uuid.uuid4().hex[:6]

    async def edu_user(name: str, role: EducationUserRole, **facet) -> EducationUser:
        upn = f"{name.replace(' ', '.').lower()}.{run}@school.test"
        return await c.education.users.post(
            EducationUser(
                account_enabled=True,
                display_name=name,
                mail_nickname=upn.split("@")[0],
                user_principal_name=upn,
                password_profile=PasswordProfile(password=PASSWORD),
                primary_role=role,
                **facet,
            )
        )

    teacher = await edu_user("Ms Frizzle", EducationUserRole.Teacher, teacher=EducationTeacher(external_id="T-1"))
    students = [
        await edu_user(f"Student {i}", EducationUserRole.Student, student=EducationStudent(external_id=f"S-{i}", grade="9"))
        for i in range(3)
    ]
    cls = await c.education.classes.post(
        EducationClass(display_name=f"Science {run}", mail_nickname=f"science{run}", external_id=f"C-{run}", class_code="SCI")
    )
    assert cls.id
    klass = c.education.classes.by_education_class_id(cls.id)
    base = "https://graph.microsoft.com/beta"
    await klass.teachers.ref.post(ReferenceCreate(odata_id=f"{base}/education/users/{teacher.id}"))
    for s in [teacher, *students]:
        await klass.members.ref.post(ReferenceCreate(odata_id=f"{base}/education/users/{s.id}"))

    got = await klass.get()
    assert (got.display_name, got.external_id, got.class_code) == (f"Science {run}", f"C-{run}", "SCI")
    members = await klass.members.get()
    assert sorted(m.id for m in members.value) == sorted([teacher.id, *(s.id for s in students)])
    assert {m.student.external_id for m in members.value if m.primary_role == EducationUserRole.Student} == {"S-0", "S-1", "S-2"}
    teachers = await klass.teachers.get()
    assert [t.id for t in teachers.value] == [teacher.id]
    assert teachers.value[0].teacher.external_id == "T-1"
    classes = await c.education.users.by_education_user_id(students[0].id).classes.get()
    assert [x.id for x in classes.value] == [cls.id]
    # A student can't be added twice; a missing user is 404.
    await expect_error(400, klass.members.ref.post(ReferenceCreate(odata_id=f"{base}/education/users/{students[0].id}")))
    await expect_error(404, klass.members.ref.post(ReferenceCreate(odata_id=f"{base}/education/users/{uuid.uuid4()}")))

#!/usr/bin/env python3
"""Validate the built-in reference data loaded by rosterflow-model.

Checks reference-definitions.json, role-groups.json and reference-types.json
(same directory as this script) against the invariants in docs/reference-data.md.
Python 3 standard library only. Exits 1 and lists every violation found.

Usage: python3 crates/rosterflow-model/data/check.py
"""

import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEF_FIELDS = {"referenceType": str, "code": str, "displayName": str, "sortIndex": int, "source": str}
# Characters a code must not contain: the code is part of the entity key
# "{referenceType}-{code}", which appears in URL paths and OData key literals.
BAD_CODE = re.compile(r"[\s/\\?#%'\"]")
TYPE_NAME = re.compile(r"^Ref[A-Z][A-Za-z]*$")
INT32_MIN, INT32_MAX = -(2 ** 31), 2 ** 31 - 1

# Codes fixed by sds-semantics.md (27 section roles, the exact set).
SECTION_ROLES = {
    "student", "visionTherapist", "substitute", "aide", "paraprofessional", "principal", "proctor",
    "teacherAssistant", "specialServices", "teacher", "professor", "advisor", "administrator", "lecturer",
    "coach", "occupationalTherapist", "affiliate", "assistant", "physicalTherapist", "adjunct", "staff",
    "speechTherapist", "instructor", "alumni", "chair", "itAdmin", "officeStaff",
}
# Built-in values shown verbatim in the Graph docs examples: (type, code) -> expected fields.
DOC_EXAMPLES = {
    ("RefEmailAddressType", "home"): {"sortIndex": 10, "source": "CEDS"},
    ("RefGradeLevel", "01"): {"sortIndex": 60, "source": "CEDS"},
    ("RefGradeLevel", "02"): {"sortIndex": 70, "source": "CEDS"},
    ("RefGradeLevel", "undergraduate"): {"sortIndex": 270, "source": "Contoso"},
    ("RefIdentifierType", "username"): {"sortIndex": 40, "source": "IMS Global"},
    ("RefOrgType", "academicTrust"): {"sortIndex": 140, "source": "Contoso"},
    ("RefAcademicSubject", "01"): {"sortIndex": 10, "source": "microsoft.com"},
}
# Codes used in doc/sample request bodies that must resolve against the built-ins.
DOC_CODES = {
    "RefUserMatchTarget": {"userPrincipalName", "mail"},
    "RefIdentifierType": {"username"},
    "RefAcademicYear": {"2022"},
    "RefFileFormat": {"schoolDataSyncV1", "schoolDataSyncV2Rev1"},
    "RefSectionRole": {"teacher", "proctor", "teacherAssistant", "paraProfessional", "physicalTherapist",
                       "speechTherapist", "visionTherapist", "occupationalTherapist", "staff", "student",
                       "substitute", "aide"},
    "RefRole": {"student", "teacher", "professor", "faculty", "aide", "staff", "lecturer"},
    "RefOrgType": {"college", "department", "school", "ministryOfEducation", "university"},
    "RefGradeLevel": {"10", "PS1", "ps1", "PS2", "PS3", "undergraduate", "postgraduate"},
    "RefAcademicSubject": {"10", "14"},
    "RefRace": {"asian", "white", "nativeHawaiianOrOtherPacificIslander", "demographicRaceTwoOrMoreRaces",
                "blackOrAfricanAmerican"},
    "RefEthnicity": {"hispanicOrLatinoEthnicity"},
    "RefPersonFlagType": {"iep", "freeLunch", "504"},
}
# The docs' POST example must succeed against a fresh tenant: this (type, code, sortIndex) must be free.
DOC_POST_FREE = ("RefGradeLevel", "TestGrade", 300)


def load(name, errors):
    path = os.path.join(HERE, name)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        errors.append(f"{name}: cannot load: {e}")
        return None


def check_definitions(defs, errors):
    by_type = {}
    if not isinstance(defs, list):
        errors.append("reference-definitions.json: top level must be an array")
        return by_type
    ids = {}
    for n, d in enumerate(defs):
        where = f"reference-definitions.json[{n}]"
        if not isinstance(d, dict):
            errors.append(f"{where}: not an object")
            continue
        extra = set(d) - set(DEF_FIELDS)
        if extra:
            errors.append(f"{where}: unknown fields {sorted(extra)}")
        ok = True
        for field, typ in DEF_FIELDS.items():
            v = d.get(field)
            if v is None:
                errors.append(f"{where}: missing required field {field!r}")
                ok = False
            elif typ is int and (isinstance(v, bool) or not isinstance(v, int)):
                errors.append(f"{where}: {field} must be an integer, got {v!r}")
                ok = False
            elif typ is str and (not isinstance(v, str) or not v.strip()):
                errors.append(f"{where}: {field} must be a non-empty string, got {v!r}")
                ok = False
        if not ok:
            continue
        t, code = d["referenceType"], d["code"]
        where = f"{where} ({t}-{code})"
        if not TYPE_NAME.match(t):
            errors.append(f"{where}: referenceType {t!r} does not look like RefXxx")
        if BAD_CODE.search(code) or code != code.strip():
            errors.append(f"{where}: code {code!r} contains whitespace or URL-unsafe characters")
        if not INT32_MIN <= d["sortIndex"] <= INT32_MAX:
            errors.append(f"{where}: sortIndex outside Int32")
        if len(d["displayName"]) > 100:
            errors.append(f"{where}: displayName longer than 100 characters")
        key = f"{t}-{code}".lower()
        if key in ids:
            errors.append(f"{where}: id collides (case-insensitively) with entry {ids[key]}")
        ids[key] = n
        by_type.setdefault(t, []).append(d)

    for t, items in sorted(by_type.items()):
        seen_code, seen_idx = {}, {}
        for d in items:
            lc = d["code"].lower()
            if lc in seen_code:
                errors.append(f"{t}: code {d['code']!r} duplicates {seen_code[lc]!r} (case-insensitive)")
            seen_code[lc] = d["code"]
            if d["sortIndex"] in seen_idx:
                errors.append(f"{t}: sortIndex {d['sortIndex']} used by both {seen_idx[d['sortIndex']]!r} "
                              f"and {d['code']!r}")
            seen_idx[d["sortIndex"]] = d["code"]
    return by_type


def codes_of(by_type, t):
    return {d["code"].lower() for d in by_type.get(t, [])}


def check_types(types, by_type, errors):
    if not isinstance(types, dict):
        errors.append("reference-types.json: top level must be an object")
        return
    unknown = set(types) - {"extensible", "valueTypes", "aliases"}
    if unknown:
        errors.append(f"reference-types.json: unknown keys {sorted(unknown)}")
    ext = types.get("extensible")
    if not isinstance(ext, list) or not all(isinstance(x, str) for x in ext):
        errors.append("reference-types.json: 'extensible' must be an array of strings")
        ext = []
    if len(set(ext)) != len(ext):
        errors.append("reference-types.json: 'extensible' has duplicates")
    for t in ext:
        if t not in by_type:
            errors.append(f"reference-types.json: extensible type {t!r} has no built-in definitions")
    vt = types.get("valueTypes")
    if not isinstance(vt, dict):
        errors.append("reference-types.json: 'valueTypes' must be an object")
        vt = {}
    for sub, t in vt.items():
        if not sub.endswith("ReferenceValue"):
            errors.append(f"reference-types.json: valueTypes key {sub!r} is not a *ReferenceValue type")
        if t not in by_type:
            errors.append(f"reference-types.json: valueTypes[{sub!r}] -> {t!r} is not a defined referenceType")
    aliases = types.get("aliases", {})
    if not isinstance(aliases, dict):
        errors.append("reference-types.json: 'aliases' must be an object")
        aliases = {}
    for t, m in aliases.items():
        if t not in by_type:
            errors.append(f"reference-types.json: aliases for unknown type {t!r}")
            continue
        if not isinstance(m, dict):
            errors.append(f"reference-types.json: aliases[{t!r}] must be an object")
            continue
        codes = codes_of(by_type, t)
        for alias, target in m.items():
            if alias.lower() in codes:
                errors.append(f"aliases[{t}]: alias {alias!r} shadows a real code")
            if not isinstance(target, str) or target.lower() not in codes:
                errors.append(f"aliases[{t}]: {alias!r} -> {target!r} does not name an existing code")


def check_role_groups(groups, by_type, errors):
    if not isinstance(groups, list):
        errors.append("role-groups.json: top level must be an array")
        return
    roles = codes_of(by_type, "RefRole")
    seen = set()
    for n, g in enumerate(groups):
        where = f"role-groups.json[{n}]"
        if not isinstance(g, dict):
            errors.append(f"{where}: not an object")
            continue
        for field in ("id", "displayName", "roles"):
            if field not in g:
                errors.append(f"{where}: missing {field!r}")
        if set(g) - {"id", "displayName", "roles"}:
            errors.append(f"{where}: unknown fields {sorted(set(g) - {'id', 'displayName', 'roles'})}")
        gid = g.get("id")
        if not isinstance(gid, str) or not gid:
            errors.append(f"{where}: id must be a non-empty string")
        elif gid.lower() in seen:
            errors.append(f"{where}: duplicate id {gid!r}")
        else:
            seen.add(gid.lower())
        if not isinstance(g.get("displayName"), str) or not g.get("displayName"):
            errors.append(f"{where}: displayName must be a non-empty string")
        rs = g.get("roles")
        if not isinstance(rs, list) or not rs:
            errors.append(f"{where}: roles must be a non-empty array")
            continue
        codes_here = set()
        for r in rs:
            if not isinstance(r, dict) or set(r) != {"code"} or not isinstance(r["code"], str):
                errors.append(f"{where}: role entry {r!r} must be exactly {{\"code\": \"...\"}}")
                continue
            c = r["code"].lower()
            if c not in roles:
                errors.append(f"{where} ({gid}): role code {r['code']!r} is not a RefRole code")
            if c in codes_here:
                errors.append(f"{where} ({gid}): role code {r['code']!r} listed twice")
            codes_here.add(c)
    for required in ("staff", "students"):
        if required not in seen:
            errors.append(f"role-groups.json: built-in group {required!r} missing")


def check_documented(by_type, errors):
    section = {d["code"] for d in by_type.get("RefSectionRole", [])}
    if section != SECTION_ROLES:
        errors.append(f"RefSectionRole must be exactly the 27 codes; missing {sorted(SECTION_ROLES - section)}, "
                      f"extra {sorted(section - SECTION_ROLES)}")
    index = {(d["referenceType"], d["code"]): d for ds in by_type.values() for d in ds}
    for (t, c), want in DOC_EXAMPLES.items():
        d = index.get((t, c))
        if d is None:
            errors.append(f"docs example {t}-{c} missing")
            continue
        for k, v in want.items():
            if d[k] != v:
                errors.append(f"docs example {t}-{c}: {k} is {d[k]!r}, docs show {v!r}")
    for t, codes in DOC_CODES.items():
        have = codes_of(by_type, t)
        for c in codes:
            if c.lower() not in have:
                errors.append(f"{t}: code {c!r} used in docs/samples is not built in")
    t, code, idx = DOC_POST_FREE
    if code.lower() in codes_of(by_type, t) or any(d["sortIndex"] == idx for d in by_type.get(t, [])):
        errors.append(f"{t}: code {code!r} / sortIndex {idx} must stay free (docs POST example)")
    years = by_type.get("RefAcademicYear", [])
    if any(not re.fullmatch(r"\d{4}", d["code"]) for d in years):
        errors.append("RefAcademicYear: every code must be a 4-digit year")


def main():
    errors = []
    defs = load("reference-definitions.json", errors)
    groups = load("role-groups.json", errors)
    types = load("reference-types.json", errors)
    by_type = check_definitions(defs, errors) if defs is not None else {}
    if types is not None:
        check_types(types, by_type, errors)
    if groups is not None:
        check_role_groups(groups, by_type, errors)
    if by_type:
        check_documented(by_type, errors)
    if errors:
        for e in errors:
            print("FAIL:", e, file=sys.stderr)
        print(f"{len(errors)} violation(s)", file=sys.stderr)
        return 1
    total = sum(len(v) for v in by_type.values())
    summary = ", ".join(f"{t} {len(v)}" for t, v in sorted(by_type.items()))
    print(f"OK: {total} definitions in {len(by_type)} types ({summary}); {len(groups)} role groups")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Organisations, roles and the rules on who may belong where."""

from __future__ import annotations

from enum import StrEnum


class OrgType(StrEnum):
    AGENCY = "agency"
    IMPORTER = "importer"
    WHOLESALER = "wholesaler"
    PHARMACY = "pharmacy"
    MEDICAL_INSTITUTION = "medical_institution"
    MANUFACTURER = "manufacturer"
    PUBLIC = "public"  # holds patients' accounts; no licences, no locations


class Role(StrEnum):
    ADMIN = "admin"  # the agency's system administrator: users, tokens, devices of any organisation
    REGULATOR = "regulator"
    INSPECTOR = "inspector"
    IMPORTER = "importer"
    PHARMACIST = "pharmacist"
    HEAD_PHARMACIST = "head_pharmacist"
    PHYSICIAN = "physician"
    CASH_REGISTER = "cash_register"  # a fiscal device's identity, never a person's
    PATIENT = "patient"


class LicenceKind(StrEnum):
    PHARMACY_RETAIL = "pharmacy_retail"
    IMPORT = "import"
    WHOLESALE = "wholesale"
    MEDICAL_PRACTICE = "medical_practice"
    MANUFACTURING = "manufacturing"


class LicenceStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


# which roles a person of each kind of organisation may hold
ROLES_BY_ORG_TYPE: dict[OrgType, frozenset[Role]] = {
    OrgType.AGENCY: frozenset({Role.ADMIN, Role.REGULATOR, Role.INSPECTOR}),
    OrgType.IMPORTER: frozenset({Role.IMPORTER}),
    OrgType.WHOLESALER: frozenset({Role.IMPORTER}),
    OrgType.PHARMACY: frozenset({Role.PHARMACIST, Role.HEAD_PHARMACIST}),
    OrgType.MEDICAL_INSTITUTION: frozenset({Role.PHYSICIAN}),
    OrgType.MANUFACTURER: frozenset(),
    OrgType.PUBLIC: frozenset({Role.PATIENT}),
}

# which licence kinds fit each kind of organisation
LICENCES_BY_ORG_TYPE: dict[OrgType, frozenset[LicenceKind]] = {
    OrgType.AGENCY: frozenset(),
    OrgType.IMPORTER: frozenset({LicenceKind.IMPORT, LicenceKind.WHOLESALE}),
    OrgType.WHOLESALER: frozenset({LicenceKind.WHOLESALE, LicenceKind.IMPORT}),
    OrgType.PHARMACY: frozenset({LicenceKind.PHARMACY_RETAIL}),
    OrgType.MEDICAL_INSTITUTION: frozenset({LicenceKind.MEDICAL_PRACTICE}),
    OrgType.MANUFACTURER: frozenset({LicenceKind.MANUFACTURING}),
    OrgType.PUBLIC: frozenset(),
}

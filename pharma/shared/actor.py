"""Who is acting: a signed-in person, an API token's owner, a device, or the system itself."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int | None
    org_id: int | None
    roles: frozenset[str]
    device_id: int | None = None
    location_id: int | None = None  # a device's pharmacy location
    username: str = ""
    org_type: str | None = None
    via: str = "session"  # session | token | system

    @classmethod
    def system(cls, reason: str = "system") -> Actor:
        return cls(user_id=None, org_id=None, roles=frozenset({"system"}), username=reason,
                   via="system")

    @property
    def is_system(self) -> bool:
        return self.via == "system"

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

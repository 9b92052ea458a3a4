"""KSeF permissions (ksef-api.md §16): grants to persons, to entities (e.g. an accounting office, with
``can_delegate``) and indirect grants, revocation, the asynchronous operations behind them (``EG``) with a
wait helper, and the queries (own permissions, the context's grants, grants received as an entity, roles).

Granting and revoking need ``CredentialsManage`` in the current context: without it KSeF answers 403 and
the call raises ``KsefForbidden`` (``reason_code`` ``missing-permissions``, ``message_pl``/``message_en``).
An operation KSeF refuses later (its status ≥ 400) raises ``KsefPermissionRefused`` from ``operation_wait``.
The Owner of a context is implicit and never appears in the lists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from ksef_integration.ksef._values import as_dict, as_list, parse_datetime, require, str_list
from ksef_integration.ksef.auth import PollPolicy
from ksef_integration.ksef.errors import KsefPermissionRefused, KsefTransientError
from ksef_integration.ksef.polling import PolledEndpoints

PERSON_PERMISSIONS = (
    "InvoiceWrite", "InvoiceRead", "CredentialsManage", "CredentialsRead", "Introspection", "SubunitManage",
    "EnforcementOperations", "CollectiveIdentifierManage",
)  # fmt: skip
ENTITY_PERMISSIONS = ("InvoiceWrite", "InvoiceRead", "CollectiveIdentifierManage")
INDIRECT_PERMISSIONS = ENTITY_PERMISSIONS
PERSON_IDENTIFIER_TYPES = ("Pesel", "Nip", "Fingerprint")
QUERY_TYPES = ("PermissionsInCurrentContext", "PermissionsGrantedInCurrentContext")
STATES = ("Active", "Inactive")
OPERATION_DONE = 200
OPERATION_TRANSIENT = frozenset({500, 550})
DEFAULT_POLL = PollPolicy(initial=0.3, timeout=60.0)

T = TypeVar("T")


@dataclass(frozen=True)
class Identifier:
    """``{type, value}`` as KSeF writes identifiers (``AllPartners`` and ``System`` have no value)."""

    type: str
    value: str | None = None

    def to_json(self) -> dict[str, str]:
        return {"type": self.type} if self.value is None else {"type": self.type, "value": self.value}


def _identifier(data: Any) -> Identifier | None:
    if not isinstance(data, dict) or not data.get("type"):
        return None
    value = data.get("value")
    return Identifier(type=str(data["type"]), value=None if value in (None, "") else str(value))


@dataclass(frozen=True)
class OperationStatus:
    """``GET /permissions/operations/{ref}``: 100 accepted, 200 done, ≥ 400 refused (410-450 say why)."""

    reference_number: str
    code: int
    description: str
    details: tuple[str, ...] = ()

    @property
    def in_progress(self) -> bool:
        return self.code < OPERATION_DONE

    @property
    def succeeded(self) -> bool:
        return self.code == OPERATION_DONE


@dataclass(frozen=True)
class PermissionGrant:
    """One permission as the personal and persons queries list it."""

    id: str
    scope: str
    description: str
    state: str
    start_date: datetime
    can_delegate: bool
    authorized: Identifier | None = None
    context: Identifier | None = None  # who granted it (personal query) or the subunit's context
    target: Identifier | None = None  # the client of an indirect grant (``AllPartners``: every client)
    author: Identifier | None = None  # who granted it (persons query; ``System`` for ZAW-FA)
    person_name: str | None = None
    entity_name: str | None = None

    @property
    def is_active(self) -> bool:
        return self.state == "Active"


def _grant_parse(data: Any) -> PermissionGrant:
    person = as_dict(data.get("subjectPersonDetails"))
    entity = as_dict(data.get("subjectEntityDetails"))
    name = " ".join(str(person[k]) for k in ("firstName", "lastName") if person.get(k)) or None
    return PermissionGrant(
        id=str(require(data, "id")),
        scope=str(require(data, "permissionScope")),
        description=str(data.get("description") or ""),
        state=str(require(data, "permissionState")),
        start_date=parse_datetime(require(data, "startDate")),
        can_delegate=bool(data.get("canDelegate")),
        authorized=_identifier(data.get("authorizedIdentifier")),
        context=_identifier(data.get("contextIdentifier")),
        target=_identifier(data.get("targetIdentifier")),
        author=_identifier(data.get("authorIdentifier")),
        person_name=name,
        entity_name=str(entity["fullName"]) if entity.get("fullName") else None,
    )


@dataclass(frozen=True)
class EntityGrant:
    """``POST /permissions/query/entities/grants``: what another entity (``context``) let this one do."""

    id: str
    context: Identifier
    scope: str
    description: str
    start_date: datetime
    can_delegate: bool


@dataclass(frozen=True)
class EntityRole:
    """``GET /permissions/query/entities/roles``: e.g. ``EnforcementAuthority``, ``VatGroupUnit``."""

    role: str
    description: str
    start_date: datetime
    parent: Identifier | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    has_more: bool


@dataclass(frozen=True)
class PersonalFilters:
    """``PersonalPermissionsQueryRequest``; every filter optional."""

    context: Identifier | None = None
    target: Identifier | None = None
    permission_types: tuple[str, ...] = ()
    state: str | None = None

    def to_json(self) -> dict[str, Any]:
        if self.state is not None and self.state not in STATES:
            raise ValueError(f"unknown permission state {self.state!r}")
        body: dict[str, Any] = {}
        if self.context is not None:
            body["contextIdentifier"] = self.context.to_json()
        if self.target is not None:
            body["targetIdentifier"] = self.target.to_json()
        if self.permission_types:
            body["permissionTypes"] = list(self.permission_types)
        if self.state is not None:
            body["permissionState"] = self.state
        return body


@dataclass(frozen=True)
class PersonsFilters(PersonalFilters):
    """``PersonPermissionsQueryRequest``: also by who holds it and who granted it."""

    query_type: str = "PermissionsInCurrentContext"
    authorized: Identifier | None = None
    author: Identifier | None = None

    def to_json(self) -> dict[str, Any]:
        if self.query_type not in QUERY_TYPES:
            raise ValueError(f"unknown query type {self.query_type!r}")
        body = super().to_json()
        body["queryType"] = self.query_type
        if self.authorized is not None:
            body["authorizedIdentifier"] = self.authorized.to_json()
        if self.author is not None:
            body["authorIdentifier"] = self.author.to_json()
        return body


def _person_details(first_name: str, last_name: str) -> dict[str, Any]:
    return {
        "subjectDetailsType": "PersonByIdentifier",
        "personById": {"firstName": first_name, "lastName": last_name},
    }


def _checked(permissions: Sequence[str], allowed: Sequence[str]) -> list[str]:
    if not permissions:
        raise ValueError("grant at least one permission")
    if len(set(permissions)) != len(permissions):
        raise ValueError("each permission may be given once")
    unknown = sorted(set(permissions) - set(allowed))
    if unknown:
        raise ValueError(f"permissions not allowed here: {', '.join(unknown)}")
    return list(permissions)


def _description(text: str) -> str:
    if not 5 <= len(text) <= 256:
        raise ValueError("a permission description has 5-256 characters")
    return text


def _operation_refused(status: OperationStatus) -> None:
    if status.code in OPERATION_TRANSIENT:
        raise KsefTransientError(
            f"KSeF could not process the permission operation ({status.code} {status.description})",
            status=status.code,
        )
    if status.code >= 400:
        raise KsefPermissionRefused(status.code, status.details, description=status.description)


class Permissions(PolledEndpoints):
    """The ``/permissions`` endpoints in the logged-in context."""

    default_poll = DEFAULT_POLL

    # --- grants and revocation ----------------------------------------------------------------------

    def _submit(self, path: str, body: dict[str, Any]) -> str:
        data = self._http.call("POST", path, bearer=self._bearer(), json_body=body, expect=(202,))
        return str(require(data, "referenceNumber"))

    def grant_to_person(
        self,
        *,
        identifier: Identifier,
        permissions: Sequence[str],
        description: str,
        first_name: str,
        last_name: str,
    ) -> str:
        """``POST /permissions/persons/grants`` (a PESEL, NIP or certificate fingerprint); the operation's
        reference number (``operation_wait`` it)."""
        if identifier.type not in PERSON_IDENTIFIER_TYPES or not identifier.value:
            raise ValueError("a person is identified by a PESEL, a NIP or a certificate fingerprint")
        return self._submit(
            "/permissions/persons/grants",
            {
                "subjectIdentifier": identifier.to_json(),
                "permissions": _checked(permissions, PERSON_PERMISSIONS),
                "description": _description(description),
                "subjectDetails": _person_details(first_name, last_name),
            },
        )

    def grant_to_entity(
        self, *, nip: str, permissions: Mapping[str, bool], description: str, full_name: str
    ) -> str:
        """``POST /permissions/entities/grants``: ``permissions`` maps each permission to ``can_delegate``
        (whether the entity may pass it on to its own people with ``grant_indirect``)."""
        wanted = _checked(list(permissions), ENTITY_PERMISSIONS)
        if not 5 <= len(full_name) <= 90:
            raise ValueError("an entity's full name has 5-90 characters")
        return self._submit(
            "/permissions/entities/grants",
            {
                "subjectIdentifier": {"type": "Nip", "value": nip},
                "permissions": [{"type": p, "canDelegate": bool(permissions[p])} for p in wanted],
                "description": _description(description),
                "subjectDetails": {"fullName": full_name},
            },
        )

    def grant_indirect(
        self,
        *,
        identifier: Identifier,
        permissions: Sequence[str],
        description: str,
        first_name: str,
        last_name: str,
        client_nip: str | None = None,
    ) -> str:
        """``POST /permissions/indirect/grants``: the current context (an intermediary) lets a person handle
        one client's invoices (``client_nip``; the client must have let it pass them on) or, without
        ``client_nip``, every client's (``AllPartners``)."""
        if identifier.type not in PERSON_IDENTIFIER_TYPES or not identifier.value:
            raise ValueError("a person is identified by a PESEL, a NIP or a certificate fingerprint")
        target = {"type": "Nip", "value": client_nip} if client_nip else {"type": "AllPartners"}
        return self._submit(
            "/permissions/indirect/grants",
            {
                "subjectIdentifier": identifier.to_json(),
                "targetIdentifier": target,
                "permissions": _checked(permissions, INDIRECT_PERMISSIONS),
                "description": _description(description),
                "subjectDetails": _person_details(first_name, last_name),
            },
        )

    def revoke(self, *, permission_id: str) -> str:
        """``DELETE /permissions/common/grants/{id}`` (an id from the queries); the operation's reference."""
        if len(permission_id) != 36:
            raise ValueError("a permission id has 36 characters")
        data = self._http.call(
            "DELETE", f"/permissions/common/grants/{permission_id}", bearer=self._bearer(), expect=(202,)
        )
        return str(require(data, "referenceNumber"))

    def operation_status(self, *, reference_number: str) -> OperationStatus:
        data = self._http.call("GET", f"/permissions/operations/{reference_number}", bearer=self._bearer())
        status = as_dict(require(data, "status"))
        return OperationStatus(
            reference_number=reference_number,
            code=int(require(status, "code")),
            description=str(status.get("description") or ""),
            details=tuple(str_list(status.get("details"))),
        )

    def operation_wait(self, *, reference_number: str) -> OperationStatus:
        """Poll until the operation is done. A refusal raises ``KsefPermissionRefused`` (``reason``:
        ``mismatched_identifiers``, ``not_allowed_for_credentials``, ``context_role``, ``relation``,
        ``identifier_not_allowed``, ``failed``); 500/550 and a timeout raise ``KsefTransientError``."""
        return self.wait_for(
            lambda: self.operation_status(reference_number=reference_number),
            finished=lambda status: status.succeeded,
            refuse=_operation_refused,
            still_working="the permission operation is still being processed; try again later",
        )

    # --- queries ------------------------------------------------------------------------------------

    def _query(self, path: str, body: dict[str, Any] | None, *, page_size: int, page_offset: int) -> Any:
        if not 10 <= page_size <= 100:
            raise ValueError("page_size is 10..100")
        params = {"pageSize": page_size, "pageOffset": page_offset}
        if body is None:
            return self._http.call("GET", path, bearer=self._bearer(), params=params)
        return self._http.call("POST", path, bearer=self._bearer(), params=params, json_body=body)

    def personal_page(
        self, *, filters: PersonalFilters | None = None, page_size: int = 10, page_offset: int = 0
    ) -> Page[PermissionGrant]:
        """One page of the caller's own permissions in the current context (the Owner's are not rows)."""
        data = self._query(
            "/permissions/query/personal/grants",
            (filters or PersonalFilters()).to_json(),
            page_size=page_size,
            page_offset=page_offset,
        )
        items = tuple(_grant_parse(i) for i in as_list(as_dict(data).get("permissions")))
        return Page(items=items, has_more=bool(require(data, "hasMore")))

    def persons_page(
        self, *, filters: PersonsFilters | None = None, page_size: int = 10, page_offset: int = 0
    ) -> Page[PermissionGrant]:
        """One page of who may work in the current context (or what the caller granted there)."""
        data = self._query(
            "/permissions/query/persons/grants",
            (filters or PersonsFilters()).to_json(),
            page_size=page_size,
            page_offset=page_offset,
        )
        items = tuple(_grant_parse(i) for i in as_list(as_dict(data).get("permissions")))
        return Page(items=items, has_more=bool(require(data, "hasMore")))

    def entities_page(
        self, *, granted_by: Identifier | None = None, page_size: int = 10, page_offset: int = 0
    ) -> Page[EntityGrant]:
        """One page of what other entities let the current context's entity do for them."""
        body = {"contextIdentifier": granted_by.to_json()} if granted_by else {}
        data = self._query(
            "/permissions/query/entities/grants", body, page_size=page_size, page_offset=page_offset
        )
        items = []
        for item in as_list(as_dict(data).get("permissions")):
            context = _identifier(require(item, "contextIdentifier"))
            assert context is not None  # noqa: S101 (require() made sure it is a non-empty object)
            items.append(
                EntityGrant(
                    id=str(require(item, "id")),
                    context=context,
                    scope=str(require(item, "permissionScope")),
                    description=str(item.get("description") or ""),
                    start_date=parse_datetime(require(item, "startDate")),
                    can_delegate=bool(item.get("canDelegate")),
                )
            )
        return Page(items=tuple(items), has_more=bool(require(data, "hasMore")))

    def roles_page(self, *, page_size: int = 10, page_offset: int = 0) -> Page[EntityRole]:
        data = self._query(
            "/permissions/query/entities/roles", None, page_size=page_size, page_offset=page_offset
        )
        items = tuple(
            EntityRole(
                role=str(require(item, "role")),
                description=str(item.get("description") or ""),
                start_date=parse_datetime(require(item, "startDate")),
                parent=_identifier(item.get("parentEntityIdentifier")),
            )
            for item in as_list(as_dict(data).get("roles"))
        )
        return Page(items=items, has_more=bool(require(data, "hasMore")))

    def personal(
        self, *, filters: PersonalFilters | None = None, page_size: int = 100
    ) -> Iterator[PermissionGrant]:
        yield from _all(
            lambda offset: self.personal_page(filters=filters, page_size=page_size, page_offset=offset)
        )

    def persons(
        self, *, filters: PersonsFilters | None = None, page_size: int = 100
    ) -> Iterator[PermissionGrant]:
        yield from _all(
            lambda offset: self.persons_page(filters=filters, page_size=page_size, page_offset=offset)
        )

    def entities(
        self, *, granted_by: Identifier | None = None, page_size: int = 100
    ) -> Iterator[EntityGrant]:
        yield from _all(
            lambda offset: self.entities_page(granted_by=granted_by, page_size=page_size, page_offset=offset)
        )

    def roles(self, *, page_size: int = 100) -> Iterator[EntityRole]:
        yield from _all(lambda offset: self.roles_page(page_size=page_size, page_offset=offset))


def _all(fetch: Callable[[int], Page[T]]) -> Iterator[T]:
    """Every item, page after page (``page_offset`` is a page index)."""
    offset = 0
    while True:
        page = fetch(offset)
        yield from page.items
        if not page.has_more or not page.items:
            return
        offset += 1

"""``/v1/vault``: put, get, delete and look up encrypted personal data. Parse, call, format:
who may do what, and every audit event, live in ``bastion.vault``.

The caller is authenticated here (access token or API key); the scope decision is the
vault's, because a user may read their own subject without ``vault:read``."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from bastion._principal import Principal
from bastion.http._deps import client_ip, get_guard
from bastion.vault import FIELD_PATTERN, SUBJECT_PATTERN, VaultEntry

__all__ = ["router"]

router = APIRouter(prefix="/v1/vault", tags=["vault"])
HARD_VALUE_CAP = 65536  # the largest vault.max_value_bytes; the configured cap is the vault's

Subject = Annotated[str, Path(min_length=1, max_length=64, pattern=SUBJECT_PATTERN)]
FieldName = Annotated[str, Path(min_length=1, max_length=64, pattern=FIELD_PATTERN)]
Value = Annotated[StrictStr, Field(min_length=1, max_length=HARD_VALUE_CAP)]


async def authenticated(request: Request) -> Principal:
    """The caller (access token or API key), else 401; scopes are checked by the vault."""
    return await get_guard(request).require()(request)


Caller = Annotated[Principal, Depends(authenticated)]


class PutValue(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: Value


class LookupQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: Annotated[str, Field(min_length=1, max_length=64, pattern=FIELD_PATTERN)]
    value: Value


def _out(entry: VaultEntry) -> dict[str, Any]:
    return dataclasses.asdict(entry)


@router.get("/lookup")
async def lookup_get(
    caller: Caller,
    request: Request,
    field: Annotated[str, Query(min_length=1, max_length=64, pattern=FIELD_PATTERN)],
    value: Annotated[str, Query(min_length=1, max_length=1024)],
) -> dict[str, list[str]]:
    """Subjects whose ``field`` equals ``value`` (normalised); needs ``vault:lookup``. The
    value travels in the URL here: prefer ``POST /v1/vault/lookup``, which keeps it out of
    proxy and server logs."""
    vault = get_guard(request).vault
    found = await vault.lookup(field, value, caller=caller, ip=client_ip(request))
    return {"subjects": found}


@router.post("/lookup")
async def lookup_post(body: LookupQuery, caller: Caller, request: Request) -> dict[str, list[str]]:
    """The same lookup with the value in the body (recommended)."""
    vault = get_guard(request).vault
    found = await vault.lookup(body.field, body.value, caller=caller, ip=client_ip(request))
    return {"subjects": found}


@router.put("/{subject}/{field}")
async def put_value(
    subject: Subject, field: FieldName, body: PutValue, caller: Caller, request: Request,
    response: Response,
) -> dict[str, Any]:  # fmt: skip
    """Store a value encrypted (replacing any older one): 201 when new, 200 when replaced."""
    vault = get_guard(request).vault
    entry = await vault.put(subject, field, body.value, caller=caller, ip=client_ip(request))
    response.status_code = 201 if entry.version == 1 else 200
    return _out(entry)


@router.get("/{subject}/{field}")
async def get_value(
    subject: Subject, field: FieldName, caller: Caller, request: Request
) -> dict[str, Any]:
    """The decrypted value; 404 when absent, 410 ``subject-shredded`` after erasure."""
    vault = get_guard(request).vault
    value = await vault.get(subject, field, caller=caller, ip=client_ip(request))
    return {"subject": subject, "field": field, "value": value}


@router.delete("/{subject}/{field}", status_code=204, response_class=Response)
async def delete_value(
    subject: Subject, field: FieldName, caller: Caller, request: Request
) -> Response:
    vault = get_guard(request).vault
    await vault.delete(subject, field, caller=caller, ip=client_ip(request))
    return Response(status_code=204)


@router.delete("/{subject}")
async def erase_subject(subject: Subject, caller: Caller, request: Request) -> dict[str, int]:
    """Crypto-shred the subject and remove its rows; needs ``vault:erase``."""
    vault = get_guard(request).vault
    rows = await vault.delete_subject(subject, caller=caller, ip=client_ip(request))
    return {"erased_fields": rows}

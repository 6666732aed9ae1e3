"""The shapes of the stored collector's answers, as pydantic models (for the OpenAPI document and
for clients that want types). The API writes these bodies itself, field for field."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

__all__ = ["Accepted", "ErrorBody", "FieldProblemOut", "Health", "StoredEventOut"]


class Accepted(BaseModel):
    """A body stored: how many of its events were new, how many were stored before."""

    accepted: int = Field(description="Events stored by this request")
    duplicates: int = Field(
        description="Events whose event_id was already stored (not stored again)"
    )


class FieldProblemOut(BaseModel):
    """One bad field of a refused body."""

    field: str = Field(description="The field, e.g. events[2].event_data.currency")
    message: str = Field(description="What is wrong with it, starting with the field")


class ErrorBody(BaseModel):
    """A refused request: the reason, and each bad field when fields are to blame."""

    error: str
    errors: list[FieldProblemOut] = Field(default_factory=list)


class StoredEventOut(BaseModel):
    """One stored event: as it was sent, when it was received (UTC) and where it came from."""

    received_at: datetime
    origin: str = Field(description="browser (a page's tracker) or server (the write token)")
    event: dict[str, Any]


class Health(BaseModel):
    """``GET /healthz``: ``ok`` when the database answers, ``unavailable`` (503) when not."""

    status: str
    database: str

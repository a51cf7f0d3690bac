"""The sections service's use cases: validate, load, apply the domain, save, record events."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from congress.errors import Conflict, NotFound
from sections.adapters import orm  # noqa: F401  (maps the domain classes)
from sections.domain import registry
from sections.domain.registry import Section
from sections.schemas import SectionRegistration, SectionView, load

log = logging.getLogger(__name__)


def register_section(store: Any, payload: Any) -> dict[str, Any]:
    fields = load(SectionRegistration(), payload)
    section = Section(**fields, registered_at=datetime.now(UTC))
    view = SectionView().dump(section)
    with store.unit_of_work() as uow:
        registry.register(uow.session.get(Section, section.code), section)
        uow.session.add(section)
        uow.emit("section.registered", view)
        try:
            uow.commit()
        except IntegrityError:  # a concurrent registration of the same code won the race
            raise Conflict(
                f"a section with code {section.code!r} is already registered",
                {"code": ["already registered"]},
            ) from None
    log.info("registered section %s (%s)", section.code, section.country)
    return view


def get_section(store: Any, code: str) -> dict[str, Any]:
    with store.session() as session:
        section = session.get(Section, code)
        if section is None:
            raise NotFound(f"no section with code {code!r}")
        return SectionView().dump(section)


def list_sections(store: Any) -> list[dict[str, Any]]:
    with store.session() as session:
        rows = session.scalars(sa.select(Section).order_by(Section.code)).all()
        return SectionView(many=True).dump(rows)

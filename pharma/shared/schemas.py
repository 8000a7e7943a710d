"""Schemas every API shares: paging in, pages out."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate


class PageQuery(ma.Schema):
    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = ma.fields.Integer(load_default=25, validate=validate.Range(min=1, max=200))


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """A page envelope: ``items``, ``total``, ``page``, ``per_page``."""
    return type(
        name,
        (ma.Schema,),
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema)),
            "total": ma.fields.Integer(),
            "page": ma.fields.Integer(),
            "per_page": ma.fields.Integer(),
        },
    )


class Page:
    def __init__(self, items: list, total: int, page: int, per_page: int) -> None:
        self.items, self.total, self.page, self.per_page = items, total, page, per_page

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    def to_dict(self) -> dict:
        return {"items": self.items, "total": self.total, "page": self.page,
                "per_page": self.per_page}


def paginate(session, stmt, page: int, per_page: int) -> Page:
    from sqlalchemy import func, select

    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    items = list(session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)))
    return Page(items, total or 0, page, per_page)

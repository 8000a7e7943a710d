"""The printed import permit (fpdf2, a TrueType font that has Azerbaijani and Cyrillic letters).

The font is DejaVu: the copy python-barcode (already a dependency) ships, so every machine that
installs pharma renders the same document; the system's fonts-dejavu-core is the fallback.
"""

from __future__ import annotations

import importlib.util
from datetime import date
from functools import cache
from pathlib import Path

from flask_babel import gettext as _
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from pharma.permits import domain as d
from pharma.permits.models import ImportPermit

SYSTEM_FONTS = (Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
                Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"))


@cache
def font_path() -> Path:
    spec = importlib.util.find_spec("barcode")
    candidates = []
    if spec is not None and spec.origin:
        candidates.append(Path(spec.origin).parent / "fonts" / "DejaVuSansMono.ttf")
    candidates.extend(SYSTEM_FONTS)
    for path in candidates:
        if path.is_file():
            return path
    raise RuntimeError("No DejaVu font found: install python-barcode or fonts-dejavu-core.")


def render_permit(permit: ImportPermit, agency: str | None, verify_url: str, code: str, today: date) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_title(f"{_('Import permit')} {permit.number}")
    pdf.set_creator("pharma")
    pdf.add_font("DejaVu", "", str(font_path()))
    pdf.set_margins(15, 15, 15)
    pdf.add_page()
    width = pdf.epw

    def line(text: str, size: float = 10, height: float = 6) -> None:
        pdf.set_font("DejaVu", size=size)
        pdf.multi_cell(width, height, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    line(agency or _("Medicines agency"), 12)
    line(_("Import permit for medicinal products"), 16, 9)
    line(permit.number, 18, 10)
    pdf.ln(2)
    status = d.effective_status(permit.status, permit.valid_until, today)
    importer = permit.importer
    facts = [
        (_("Importer"), importer.name),
        (_("Tax id"), importer.tax_id or "—"),
        (_("Status"), _status_text(status)),
        (_("Applied"), permit.applied_at.date().isoformat()),
        (_("Valid from"), permit.valid_from.isoformat() if permit.valid_from else "—"),
        (_("Valid until"), permit.valid_until.isoformat() if permit.valid_until else
         _("requested until %(day)s", day=permit.requested_valid_until.isoformat())),
    ]
    if permit.decided_at:
        facts.append((_("Decided"), permit.decided_at.date().isoformat()))
    if permit.revoked_at:
        facts.append((_("Revoked"), f"{permit.revoked_at.date().isoformat()}: {permit.revoke_reason}"))
    elif permit.decision_reason:
        facts.append((_("Reason"), permit.decision_reason))
    for label, value in facts:
        line(f"{label}: {value}")
    pdf.ln(3)

    pdf.set_font("DejaVu", size=9)
    approved = permit.status in (d.PermitStatus.APPROVED, d.PermitStatus.REVOKED)
    headings = [_("Product"), _("GTIN"), _("Manufacturer, country"),
                _("Packs approved") if approved else _("Packs requested")]
    with pdf.table(col_widths=(34, 22, 30, 14), text_align=("LEFT", "LEFT", "LEFT", "RIGHT"), line_height=5,
                   headings_style=FontFace(emphasis="", fill_color=(230, 230, 230))) as table:
        row = table.row()
        for heading in headings:
            row.cell(heading)
        for item in permit.lines:
            product = item.product
            row = table.row()
            row.cell(f"{product.trade_name}, {product.pack_size} {product.pack_unit}")
            row.cell("\n".join(g.gtin for g in product.gtins))
            row.cell(f"{item.manufacturer}, {item.country_of_origin}")
            row.cell(str(item.packs_approved if approved else item.packs_requested))
    pdf.ln(4)
    line(_("Verification: permit %(number)s, code %(code)s. Check its current status at %(url)s",
           number=permit.number, code=code, url=verify_url), 8, 4.5)
    line(_("Printed on %(day)s.", day=today.isoformat()), 8, 4.5)
    return bytes(pdf.output())


def _status_text(status: d.PermitStatus) -> str:
    from pharma.labels import label

    return label(status.value)

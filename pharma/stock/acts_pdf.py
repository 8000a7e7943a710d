"""The printed write-off act (fpdf2 and the DejaVu font the permits use: Azerbaijani and Cyrillic letters)."""

from __future__ import annotations

from flask_babel import gettext as _
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from pharma.labels import label
from pharma.permits.pdf import font_path
from pharma.stock.documents_models import WriteOffAct


def render_act(act: WriteOffAct, location: str) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_title(_("Write-off act %(number)s", number=act.number))
    pdf.set_creator("pharma")
    pdf.add_font("DejaVu", "", str(font_path()))
    pdf.set_margins(15, 15, 15)
    pdf.add_page()
    width = pdf.epw

    def line(text: str, size: float = 10, height: float = 6) -> None:
        pdf.set_font("DejaVu", size=size)
        pdf.multi_cell(width, height, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    line(_("Write-off act %(number)s", number=act.number), 16, 9)
    line(location)
    line(f"{_('Reason')}: {label(act.reason)} · {_('Status')}: {label(act.status)}")
    line(f"{_('Drafted (UTC)')}: {act.created_at:%Y-%m-%d %H:%M}"
         + (f" · {_('Decided (UTC)')}: {act.decided_at:%Y-%m-%d %H:%M}" if act.decided_at else ""))
    if act.note:
        line(f"{_('Note')}: {act.note}")
    pdf.ln(3)
    pdf.set_font("DejaVu", size=9)
    with pdf.table(col_widths=(6, 26, 26, 20, 14, 10), text_align=("RIGHT", "LEFT", "LEFT", "LEFT", "LEFT", "RIGHT"),
                   line_height=5, headings_style=FontFace(emphasis="", fill_color=(230, 230, 230))) as table:
        row = table.row()
        for heading in ("#", _("GTIN"), _("Serial"), _("Batch"), _("Expiry"), _("Quantity")):
            row.cell(heading)
        for n, item in enumerate(act.lines, start=1):
            row = table.row()
            for value in (n, item.gtin, item.serial or "", item.batch or "", item.expiry or "", item.quantity):
                row.cell(str(value))
    pdf.ln(4)
    packs = sum(1 for item in act.lines if item.serial is not None)
    units = sum(item.quantity for item in act.lines if item.serial is None)
    line(f"{_('Packs')}: {packs} · {_('Units without serials')}: {units}")
    pdf.ln(10)
    for who in (_("Drafted by"), _("Head pharmacist"), _("Witness")):
        line(f"{who}: ______________________________")
        pdf.ln(4)
    return bytes(pdf.output())

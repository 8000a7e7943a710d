"""Human, translatable names for the codes the system stores (dosage forms, routes, roles...).

Codes stay in the database and the API; people read these. ``label(code)`` falls back to the
code itself, so a new code shows up untranslated rather than breaking a page.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

LABELS = {
    # dosage forms
    "TABLET": _l("Tablet"),
    "FILM_COATED_TABLET": _l("Film coated tablet"),
    "CHEWABLE_TABLET": _l("Chewable tablet"),
    "EFFERVESCENT_TABLET": _l("Effervescent tablet"),
    "PROLONGED_RELEASE_TABLET": _l("Prolonged release tablet"),
    "GASTRO_RESISTANT_TABLET": _l("Gastro resistant tablet"),
    "ORODISPERSIBLE_TABLET": _l("Orodispersible tablet"),
    "SUBLINGUAL_TABLET": _l("Sublingual tablet"),
    "HARD_CAPSULE": _l("Hard capsule"),
    "SOFT_CAPSULE": _l("Soft capsule"),
    "GASTRO_RESISTANT_CAPSULE": _l("Gastro resistant capsule"),
    "PROLONGED_RELEASE_CAPSULE": _l("Prolonged release capsule"),
    "ORAL_SOLUTION": _l("Oral solution"),
    "ORAL_SUSPENSION": _l("Oral suspension"),
    "POWDER_FOR_ORAL_SUSPENSION": _l("Powder for oral suspension"),
    "SYRUP": _l("Syrup"),
    "ORAL_DROPS": _l("Oral drops"),
    "GRANULES": _l("Granules"),
    "SOLUTION_FOR_INJECTION": _l("Solution for injection"),
    "POWDER_FOR_SOLUTION_FOR_INJECTION": _l("Powder for solution for injection"),
    "SOLUTION_FOR_INFUSION": _l("Solution for infusion"),
    "CONCENTRATE_FOR_SOLUTION_FOR_INFUSION": _l("Concentrate for solution for infusion"),
    "SUSPENSION_FOR_INJECTION": _l("Suspension for injection"),
    "CREAM": _l("Cream"),
    "OINTMENT": _l("Ointment"),
    "GEL": _l("Gel"),
    "EYE_DROPS": _l("Eye drops"),
    "EAR_DROPS": _l("Ear drops"),
    "NASAL_SPRAY": _l("Nasal spray"),
    "INHALATION_POWDER": _l("Inhalation powder"),
    "PRESSURISED_INHALATION": _l("Pressurised inhalation"),
    "NEBULISER_SOLUTION": _l("Nebuliser solution"),
    "SUPPOSITORY": _l("Suppository"),
    "VAGINAL_TABLET": _l("Vaginal tablet"),
    "TRANSDERMAL_PATCH": _l("Transdermal patch"),
    "CUTANEOUS_SOLUTION": _l("Cutaneous solution"),
    "LOZENGE": _l("Lozenge"),
    # routes of administration
    "ORAL": _l("Oral"),
    "SUBLINGUAL": _l("Sublingual"),
    "INTRAVENOUS": _l("Intravenous"),
    "INTRAMUSCULAR": _l("Intramuscular"),
    "SUBCUTANEOUS": _l("Subcutaneous"),
    "CUTANEOUS": _l("Cutaneous"),
    "OPHTHALMIC": _l("Ophthalmic"),
    "AURICULAR": _l("Auricular"),
    "NASAL": _l("Nasal"),
    "INHALATION": _l("Inhalation"),
    "RECTAL": _l("Rectal"),
    "VAGINAL": _l("Vaginal"),
    "TRANSDERMAL": _l("Transdermal"),
    "OROMUCOSAL": _l("Oromucosal"),
    # organisation types
    "agency": _l("Medicines agency"),
    "importer": _l("Importer"),
    "wholesaler": _l("Wholesaler"),
    "pharmacy": _l("Pharmacy"),
    "medical_institution": _l("Medical institution"),
    "manufacturer": _l("Manufacturer"),
    "public": _l("Members of the public"),
    # roles
    "admin": _l("Admin"),
    "regulator": _l("Regulator"),
    "inspector": _l("Inspector"),
    "pharmacist": _l("Pharmacist"),
    "head_pharmacist": _l("Head pharmacist"),
    "physician": _l("Physician"),
    "cash_register": _l("Cash register"),
    "patient": _l("Patient"),
    # licence kinds
    "pharmacy_retail": _l("Retail pharmacy"),
    "import": _l("Import"),
    "wholesale": _l("Wholesale"),
    "medical_practice": _l("Medical practice"),
    "manufacturing": _l("Manufacturing"),
    # statuses
    "active": _l("Active"),
    "suspended": _l("Suspended"),
    "revoked": _l("Revoked"),
    "expired": _l("Expired"),
    # acts on a certificate
    "register": _l("Registered"),
    "suspend": _l("Suspended"),
    "reinstate": _l("Reinstated"),
    "revoke": _l("Revoked"),
    "renew": _l("Renewed"),
    "expire": _l("Expired"),
    # declarations
    "RECEIVED": _l("Received"),
    "PROCESSING": _l("Processing"),
    "ACCEPTED": _l("Accepted"),
    "REJECTED": _l("Rejected"),
    # pack states
    "ACTIVE": _l("Active"),
    "DISPENSED": _l("Dispensed"),
    "DESTROYED": _l("Destroyed"),
    "STOLEN": _l("Stolen"),
    "EXPORTED": _l("Exported"),
    "SAMPLE": _l("Sample"),
    "LOCKED": _l("Locked"),
    "RECALLED": _l("Recalled"),
    "WITHDRAWN": _l("Withdrawn"),
    "EXPIRED": _l("Expired"),
    # pack events
    "COMMISSION": _l("Commissioned"),
    "SHIP": _l("Shipped"),
    "RECEIVE": _l("Received"),
    "DECOMMISSION": _l("Decommissioned"),
    "UNDO": _l("Decommissioning undone"),
    "RECALL": _l("Batch recalled"),
    "WITHDRAW": _l("Product withdrawn"),
    "DISPENSE": _l("Dispensed"),
    "RESOLVE_MISSING": _l("Missing pack resolved"),
    # documents behind pack events
    "declaration": _l("Declaration"),
    "shipment": _l("Shipment"),
    # import permit statuses (EXPIRED, labelled with the pack states, is derived for permits)
    "APPLIED": _l("Applied, awaiting decision"),
    "APPROVED": _l("Approved"),
    "REFUSED": _l("Refused"),
    "REVOKED": _l("Revoked"),
    # shipments: kinds, statuses and how each pack arrived (RECEIVED is above)
    "DELIVERY": _l("Delivery"),
    "RETURN": _l("Return"),
    "IN_TRANSIT": _l("In transit"),
    "CANCELLED": _l("Cancelled"),
    "MISSING": _l("Missing"),
    "DAMAGED": _l("Damaged"),
    "EXTRA": _l("Extra"),
    # how a pack missing at receipt was cleared up
    "FOUND": _l("Found by the receiver"),
    "RETURNED": _l("Back with the sender"),
    "LOST": _l("Lost in transit"),
    "WITHDRAWAL": _l("Product withdrawn"),
    # pack units
    "tablet": _l("tablet"),
    "capsule": _l("capsule"),
    "ampoule": _l("ampoule"),
    "vial": _l("vial"),
    "dose": _l("dose"),
    "sachet": _l("sachet"),
    "patch": _l("patch"),
    "suppository": _l("suppository"),
    "piece": _l("piece"),
}


def label(code: str | None) -> str:
    if code is None:
        return ""
    return str(LABELS.get(code, code))

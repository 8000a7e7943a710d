"""Every context's tables, imported so that ``Base.metadata`` is complete."""

from pharma.auditlog import models as _auditlog  # noqa: F401
from pharma.parties import models as _parties  # noqa: F401
from pharma.permits import models as _permits  # noqa: F401
from pharma.register import models as _register  # noqa: F401
from pharma.shared import idempotency as _idempotency  # noqa: F401
from pharma.shared.orm import Base
from pharma.stock import counts_models as _stock_counts  # noqa: F401
from pharma.stock import documents_models as _stock_documents  # noqa: F401
from pharma.stock import expiry_models as _stock_expiry  # noqa: F401
from pharma.stock import models as _stock  # noqa: F401
from pharma.stock import supply_models as _stock_supply  # noqa: F401
from pharma.stock import valuation_models as _stock_valuation  # noqa: F401
from pharma.trace import models as _trace  # noqa: F401
from pharma.verify import models as _verify  # noqa: F401

metadata = Base.metadata

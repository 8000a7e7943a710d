"""pharma-scanners: the counter-side client of the verification API. Never imports ``pharma``."""

__version__ = "0.1.0"

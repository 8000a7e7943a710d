"""Register tables (to be filled in)."""

"""Verification at the counter: one scan parser, verdicts, alerts."""

"""Loads the register fixtures (to be written)."""


def load_register(session, path):
    return {}


def load_icd10(session, path):
    return {}

"""Faulty variants, one module per subject, each loaded by ``load_all``."""

"""Faulty variants, one module per subject, all loaded by ``load_all``."""

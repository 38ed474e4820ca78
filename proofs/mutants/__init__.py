"""Faulty variants, one module per subject; every module here is loaded by ``load_all``."""

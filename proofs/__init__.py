"""Everything that decides whether a statement of the theory holds.

- :mod:`proofs.verdict`: PROVED, REFUTED, CHECKED, UNKNOWN, with evidence;
- :mod:`proofs.obligation`: obligations, faulty variants, their registries;
- :mod:`proofs.catalogue`: every definition and theorem with its statement;
- :mod:`proofs.obligations` and :mod:`proofs.mutants`: the content, one module
  per subject, discovered automatically;
- :mod:`proofs.harness`: the virtual-time loop the implementation runs on;
- :mod:`proofs.runner`, :mod:`proofs.report`, :mod:`proofs.cli`: ``mstheory``.
"""

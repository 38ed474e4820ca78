"""Rendering the conformance report for readers.

- :mod:`proofs.render.mathml`: LaTeX to MathML at generation time.
- :mod:`proofs.render.blocks`: counterexamples and evidence (plain JSON, or
  the forms of :mod:`proofs.verdict`) as tables, numbered steps, timelines.
- :mod:`proofs.render.model`: what both pages show, gathered from the report
  document once.
- :mod:`proofs.render.markdown` and :mod:`proofs.render.html`: the two pages.
- :mod:`proofs.render.sample`: a small document using every form, for tests.
"""

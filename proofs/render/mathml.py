r"""LaTeX to MathML, at generation time, so the report needs no script to show it.

The conversion itself is latex2mathml's. This module adds what a report needs
around it:

- a few commands latex2mathml does not know are rewritten first into ones it
  does (``\arg`` into ``\operatorname{arg}``);
- the result is checked: it must parse as XML, and no LaTeX command may survive
  into the text of the formula. A formula that would reach the reader as LaTeX
  source is refused with :class:`FormulaError`, naming the formula and the
  command, instead of being shipped half-rendered;
- ``$...$`` spans inside prose become inline formulas (:func:`split_inline`).

>>> print(to_mathml("a \\le b").replace("><", ">\n<"))
<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">
<mrow>
<mi>a</mi>
<mo>&#x02264;</mo>
<mi>b</mi>
</mrow>
</math>
>>> split_inline("so $x^2$ grows")
[('text', 'so '), ('math', 'x^2'), ('text', ' grows')]
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from functools import cache

from latex2mathml.converter import convert

#: Commands latex2mathml leaves as source, and what to write instead.
_REWRITES = (
    (re.compile(r"\\arg(?![A-Za-z])"), r"\\operatorname{arg}"),
    (re.compile(r"\\lvert(?![A-Za-z])"), "|"),
    (re.compile(r"\\rvert(?![A-Za-z])"), "|"),
)

_LEFTOVER = re.compile(r"\\[A-Za-z]+")
_INLINE = re.compile(r"(?<![\\$])\$(?!\s)([^$\n]+?)(?<!\s)\$(?!\$)")


class FormulaError(ValueError):
    """A formula cannot be shown as mathematics."""


@cache
def to_mathml(latex: str, *, display: bool = False) -> str:
    """The MathML element for ``latex`` (block when ``display``)."""
    source = latex.strip()
    for pattern, replacement in _REWRITES:
        source = pattern.sub(replacement, source)
    try:
        markup = convert(source, display="block" if display else "inline")
    except Exception as exc:  # the converter raises assorted types
        raise FormulaError(
            f"cannot convert the formula {latex!r} to MathML: {exc}"
        ) from exc
    try:
        tree = ET.fromstring(markup)
    except ET.ParseError as exc:
        raise FormulaError(
            f"the MathML for {latex!r} is not well-formed: {exc}"
        ) from exc
    text = "".join(tree.itertext())
    leftover = _LEFTOVER.search(text)
    if leftover:
        raise FormulaError(
            f"the formula {latex!r} uses {leftover.group(0)}, which the MathML "
            "converter does not know; write it with commands it supports "
            r"(for example \operatorname{...} for a named operator)"
        )
    return markup


def split_inline(text: str) -> list[tuple[str, str]]:
    """Split prose into ``("text", ...)`` and ``("math", latex)`` pieces.

    A formula is ``$...$`` with no space just inside either dollar sign, so
    prices and shell variables (``$CI``) stay text.
    """
    pieces: list[tuple[str, str]] = []
    at = 0
    for match in _INLINE.finditer(text):
        if match.start() > at:
            pieces.append(("text", text[at : match.start()]))
        pieces.append(("math", match.group(1)))
        at = match.end()
    if at < len(text):
        pieces.append(("text", text[at:]))
    return pieces

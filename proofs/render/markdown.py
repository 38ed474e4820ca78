"""The report as Markdown for a code host: formulas as ``$$`` blocks, figures linked.

Everything shown comes from the report document (``conformance.json``); the
page has the same sections as the HTML, in the same order. Code hosts render
``$...$`` and ``$$...$$`` as mathematics; elsewhere the LaTeX stays readable.
"""

from __future__ import annotations

from typing import Any

from proofs.render import blocks as bl
from proofs.render.model import (
    VERDICT_MEANINGS,
    EntryView,
    ObligationView,
    ReportView,
    markdown_anchor,
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(columns: tuple[str, ...], rows: tuple[tuple[str, ...], ...]) -> list[str]:
    out = ["| " + " | ".join(_cell(c) for c in columns) + " |"]
    out.append("|" + "---|" * len(columns))
    out += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return out


def render_blocks(items: list[bl.Block]) -> list[str]:
    out: list[str] = []
    for block in items:
        if isinstance(block, bl.Paragraph):
            text = block.text
            out += [f"**What goes wrong:** {text}" if block.role == "failure" else text]
        elif isinstance(block, bl.Table):
            out += _table(block.columns, block.rows)
            if block.caption:
                out += ["", block.caption]
        elif isinstance(block, bl.Steps):
            if block.initial:
                out += [f"Starting from `{block.initial}`:", ""]
            for n, step in enumerate(block.items, 1):
                facts = "; ".join(f"{k}: `{v}`" for k, v in step.facts)
                out.append(f"{n}. {step.text}" + (f" ({facts})" if facts else ""))
        elif isinstance(block, bl.Timeline):
            out += _timeline(block)
        else:
            out += ["```json", block.text, "```"]
        out.append("")
    return out


def _timeline(t: bl.Timeline) -> list[str]:
    rows = []
    for instant in t.instants:
        row = [bl.cell(instant)]
        for process in t.processes:
            here = []
            for op in t.operations:
                if op.process != process:
                    continue
                if op.start == instant:
                    here.append(f"invoke {op.op}")
                if op.end == instant:
                    here.append(f"returns {op.result or 'ok'}")
            row.append("; ".join(here))
        rows.append(tuple(row))
    pending = [op for op in t.operations if op.end is None]
    out = _table(("time", *(f"process {p}" for p in t.processes)), tuple(rows))
    if pending:
        out += [
            "",
            "Never returned: "
            + ", ".join(f"{op.op} (process {op.process})" for op in pending)
            + ".",
        ]
    return out


def render(view: ReportView) -> str:
    doc = view.doc
    out: list[str] = [
        f"# {doc['title']}",
        "",
        view.introduction,
        "",
        *(f"- {line}" for line in view.summary_lines),
        "",
        "A formatted version of this text, with every formula typeset and every "
        "figure in place, is `conformance.html` beside this file; it opens "
        "offline.",
        "",
        "## Contents",
        "",
        "- [How to read this report](#how-to-read-this-report)",
        "- [Index](#index)",
    ]
    for number, title, entries in view.sections:
        out.append(f"- [{number}. {title}](#{markdown_anchor(f'{number}. {title}')})")
        for e in entries:
            out.append(f"  - [{e.id} {e.title}](#{e.md_anchor})")
    out += [
        "- [Figures](#figures)",
        "- [Faulty variants](#faulty-variants)",
        "- [Reproducing this report](#reproducing-this-report)",
        "",
        "## How to read this report",
        "",
        *view.how_to_read,
        "",
    ]
    for outcome, meaning in VERDICT_MEANINGS:
        out.append(f"- **{outcome}**: {meaning}")
    out += ["", "## Index", ""]
    out += _table(
        ("id", "title", "verdicts", "all expected met", "status"),
        tuple(
            (
                f"[{e.id}](#{e.md_anchor})",
                e.title,
                ", ".join(
                    o.verdict + ("" if o.met else f" (expected {o.expected})")
                    for o in e.obligations
                )
                or "—",
                f"**{e.met_mark}**" if e.all_met is False else e.met_mark,
                e.status,
            )
            for e in view.entries
        ),
    )
    out.append("")

    for number, title, entries in view.sections:
        out += [f"## {number}. {title}", ""]
        for e in entries:
            out += _entry(e)

    out += ["## Figures", ""]
    for f in view.figures:
        where = f"[{f['entry']}](#{view.entry(f['entry']).md_anchor})"
        state = f"[`{f['file']}`]({f['file']})" if f["file"] else "omitted"
        out.append(f"- {f['title']} ({where}): {state}. {f['note']}".rstrip())
    out += ["", "## Faulty variants", "", *view.variants_intro, ""]
    out += _table(
        ("variant", "subject", "defect", "caught by"),
        tuple(
            (
                f"`{m['id']}`",
                f"`{m['subject']}`",
                m["defect"],
                ", ".join(f"`{i}`" for i in m["caught_by"]) or "**not caught**",
            )
            for m in doc["mutants"]
        ),
    )
    out.append("")
    for v in view.variants:
        if not v.caught_line:
            continue
        out += [f"### Variant `{v.id}`", "", v.caught_line, ""]
        out += render_blocks(v.shown)
    out += ["", "## Reproducing this report", "", *view.reproduce_md, ""]
    return "\n".join(out)


def _entry(e: EntryView) -> list[str]:
    out = [
        f"### {e.id} {e.title}",
        "",
        f"*{e.kind.capitalize()}, as the source states it:*",
        "",
        "$$",
        e.statement,
        "$$",
        "",
        e.paraphrase,
        "",
    ]
    if e.readings:
        out += ["Readings decided here:", ""]
        out += [f"- {r}" for r in e.readings]
        out.append("")
    for f in e.figures:
        out += _figure(f)
    if not e.declared:
        out += ["**Not yet covered**: no obligation decides this entry yet.", ""]
        return out + _correction(e)
    if not e.obligations:
        out += ["No obligation of this entry was run for this report.", ""]
        return out + _correction(e)
    for heading, group in e.groups:
        out += [f"#### {heading}", ""]
        for o in group:
            out += _obligation(o)
    out += _correction(e)
    if e.lives_in:
        out += [
            "Where it lives: " + ", ".join(f"`{p}`" for p in e.lives_in) + ".",
            "",
        ]
    return out


def _correction(e: EntryView) -> list[str]:
    c = e.correction
    if c is None:
        return []
    out = ["#### Corrected statement", "", f"{e.correction_label} {c['statement']}", ""]
    if c["formal"]:
        out += ["$$", c["formal"], "$$", ""]
    if c["backed_by"]:
        backed = ", ".join(f"`{i}`" for i in c["backed_by"])
        out += [f"Backed by: {backed}.", ""]
    return out


def _figure(f: dict[str, Any]) -> list[str]:
    if not f["file"]:
        return [f"*Figure: {f['title']}.* {f['note']}", ""]
    out = [
        f"![{f['alt'] or f['title']}]({f['file']})",
        "",
        f"*{f['title']}.* {f['caption']}",
    ]
    if f["note"]:
        out += ["", f["note"]]
    return [*out, ""]


def _obligation(o: ObligationView) -> list[str]:
    mark = "as expected" if o.met else f"**expected {o.expected}**"
    out = [f"##### `{o.id}`: {o.verdict}, {mark}", "", o.reading, ""]
    if o.formal:
        out += ["$$", o.formal, "$$", ""]
    out.append(f"- Method: {o.method_text}.")
    out.append(f"- Bounds: {o.bounds}.")
    if o.assumptions:
        out.append("- Assumptions: " + "; ".join(o.assumptions) + ".")
    if o.reason:
        out.append(f"- Why undecided: {o.reason}")
    out.append(f"- Subject: `{o.subject}`" + (f" (`{o.path}`)." if o.path else "."))
    if o.catches:
        out.append("- Catches:")
        out += [f"  - `{m['id']}`: {m['defect']}" for m in o.catches]
    else:
        out.append("- Catches: no faulty variant in this report.")
    out.append("")
    if o.detail:
        out += [o.detail, ""]
    if o.counterexample:
        out += ["Counterexample:", "", *render_blocks(o.counterexample)]
    if o.evidence:
        out += ["Evidence:", "", *render_blocks(o.evidence)]
    return out

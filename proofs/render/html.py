"""The report as one self-contained HTML file.

No script, no external style sheet, font or image: the styles are inline, the
formulas are MathML produced when the report is generated
(:mod:`proofs.render.mathml`), and the figures are embedded as ``data:`` URIs
of the SVG files in ``figures/``. The page opens offline, from a file, in any
current browser.
"""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path
from typing import Any

from proofs.render import blocks as bl
from proofs.render.mathml import split_inline, to_mathml
from proofs.render.model import (
    KIND_LABEL,
    VERDICT_MEANINGS,
    EntryView,
    ObligationView,
    ReportView,
    VariantView,
    html_id,
)

STYLE = """
:root { --ink: #1d1d1f; --muted: #5b5b66; --rule: #d9d9e0; --paper: #fff;
  --proved: #1a7f37; --checked: #0b5cad; --refuted: #8250df; --unknown: #b35900;
  --miss: #c62828; --tint: #f5f6f8; }
* { box-sizing: border-box; }
html { font-size: 17px; }
body { margin: 0; color: var(--ink); background: var(--paper);
  font-family: Charter, "Bitstream Charter", "DejaVu Serif", Georgia, serif;
  line-height: 1.55; }
.page { display: grid; grid-template-columns: 17rem minmax(0, 46rem);
  gap: 2.5rem; max-width: 68rem; margin: 0 auto; padding: 2rem 1.5rem 4rem; }
nav.contents { position: sticky; top: 0; align-self: start; max-height: 100vh;
  overflow-y: auto; padding: 1rem 0; font-size: 0.82rem; line-height: 1.35; }
nav.contents ol { list-style: none; padding-left: 0.8rem; margin: 0.2rem 0; }
nav.contents > ol { padding-left: 0; }
nav.contents a { color: var(--ink); text-decoration: none; }
nav.contents a:hover { text-decoration: underline; }
@media (max-width: 900px) { .page { grid-template-columns: 1fr; }
  nav.contents { position: static; max-height: none; } }
h1 { font-size: 2rem; line-height: 1.2; margin: 0 0 1rem; }
h2 { font-size: 1.45rem; margin: 3rem 0 1rem; padding-top: 0.5rem;
  border-top: 2px solid var(--ink); }
h3 { font-size: 1.2rem; margin: 2.5rem 0 0.6rem; }
h4 { font-size: 1rem; margin: 1.6rem 0 0.4rem; text-transform: uppercase;
  letter-spacing: 0.04em; color: var(--muted); }
h5 { font-size: 1rem; margin: 0 0 0.4rem; font-weight: 600; }
code, pre, .mono { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace;
  font-size: 0.84em; }
pre { background: var(--tint); padding: 0.7rem; overflow-x: auto; }
a { color: var(--checked); }
.lede { font-size: 1.08rem; }
.label { font-style: italic; color: var(--muted); margin-bottom: 0.2rem; }
.formula { overflow-x: auto; padding: 0.4rem 0; }
math[display="block"] { font-size: 1.12em; }
math { font-family: "Latin Modern Math", "STIX Two Math", "DejaVu Math TeX Gyre",
  math; }
.kind { font-size: 0.75rem; font-weight: normal; color: var(--muted);
  text-transform: uppercase; letter-spacing: 0.06em; margin-left: 0.4rem; }
.badge { display: inline-block; padding: 0 0.45em; border-radius: 0.25em;
  font: 600 0.72rem/1.6 "DejaVu Sans", Helvetica, Arial, sans-serif;
  color: #fff; letter-spacing: 0.03em; vertical-align: 0.1em; }
.v-PROVED { background: var(--proved); } .v-CHECKED { background: var(--checked); }
.v-REFUTED { background: var(--refuted); } .v-UNKNOWN { background: var(--unknown); }
.miss { color: var(--miss); font-weight: 600; }
.met { color: var(--muted); font-size: 0.9rem; }
table { border-collapse: collapse; margin: 0.6rem 0 1rem; font-size: 0.88rem;
  width: 100%; }
th, td { border-bottom: 1px solid var(--rule); padding: 0.25rem 0.5rem;
  text-align: left; vertical-align: top; }
th { border-bottom: 2px solid var(--ink); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.obligation { border-left: 4px solid var(--rule); padding: 0.6rem 0 0.4rem 1rem;
  margin: 1.2rem 0; }
.obligation.o-PROVED { border-color: var(--proved); }
.obligation.o-CHECKED { border-color: var(--checked); }
.obligation.o-REFUTED { border-color: var(--refuted); }
.obligation.o-UNKNOWN, .obligation.missed { border-color: var(--miss); }
dl.facts { display: grid; grid-template-columns: 8.5rem 1fr; gap: 0.15rem 0.8rem;
  margin: 0.6rem 0; font-size: 0.92rem; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.evidence { background: var(--tint); padding: 0.5rem 0.9rem; margin: 0.8rem 0; }
.evidence > .label { font-style: normal; font-weight: 600; color: var(--ink); }
.failure { color: var(--miss); }
ul.catches { margin: 0; padding-left: 1.1rem; }
ol.steps { padding-left: 1.6rem; } ol.steps li { margin: 0.2rem 0; }
ol.steps .facts { color: var(--muted); font-size: 0.88rem; }
figure { margin: 1.2rem 0; }
figure img { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 0.9rem; color: var(--muted); margin-top: 0.4rem; }
.omitted { border: 1px dashed var(--rule); padding: 0.6rem 0.9rem; color: var(--muted);
  font-size: 0.92rem; }
details { margin: 0.4rem 0; font-size: 0.9rem; }
.timeline { margin: 0.6rem 0; font-size: 0.8rem; }
.lane { display: grid; grid-template-columns: 5.5rem 1fr; align-items: center;
  margin: 0.25rem 0; }
.track { position: relative; height: 1.7rem; background: var(--tint); }
.op { position: absolute; top: 0.15rem; bottom: 0.15rem; overflow: hidden;
  white-space: nowrap; padding: 0 0.3rem; border-radius: 0.2rem;
  background: #dbe7f6; border: 1px solid var(--checked); line-height: 1.3rem;
  font-family: "DejaVu Sans Mono", monospace; min-width: 0.5rem; }
.op.pending { border-style: dashed; background: #fbeee0;
  border-color: var(--unknown); }
.axis { display: flex; justify-content: space-between; margin-left: 5.5rem;
  color: var(--muted); }
.summary { display: grid; grid-template-columns: repeat(auto-fit, minmax(9rem, 1fr));
  gap: 0.6rem; margin: 1rem 0; }
.summary div { background: var(--tint); padding: 0.5rem 0.7rem; }
.summary b { display: block; font-size: 1.4rem; }
.lives { font-size: 0.9rem; color: var(--muted); }
@media print { nav.contents { display: none; } .page { display: block; } }
"""


def _text(text: str) -> str:
    """Prose with ``$...$`` spans as inline MathML, the rest escaped."""
    out = []
    for kind, piece in split_inline(text):
        out.append(to_mathml(piece) if kind == "math" else escape(piece))
    return "".join(out)


def _display(latex: str) -> str:
    return f'<div class="formula">{to_mathml(latex, display=True)}</div>'


def _badge(outcome: str) -> str:
    return f'<span class="badge v-{escape(outcome)}">{escape(outcome)}</span>'


def _table(block: bl.Table) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in block.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>"
        for row in block.rows
    )
    caption = f"<caption>{escape(block.caption)}</caption>" if block.caption else ""
    return (
        f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _steps(block: bl.Steps) -> str:
    out = []
    if block.initial:
        out.append(f"<p>Starting from <code>{escape(block.initial)}</code>:</p>")
    items = []
    for step in block.items:
        facts = "; ".join(
            f"{escape(k)}: <code>{escape(v)}</code>" for k, v in step.facts
        )
        extra = f' <span class="facts">({facts})</span>' if facts else ""
        items.append(f"<li>{_text(step.text)}{extra}</li>")
    out.append('<ol class="steps">' + "".join(items) + "</ol>")
    return "".join(out)


def _timeline(t: bl.Timeline) -> str:
    ends = [o.end for o in t.operations if o.end is not None]
    first = min(o.start for o in t.operations)
    last = max([*ends, *(o.start for o in t.operations)])
    span = (last - first) or 1.0
    # Operations that never returned run past the last instant.
    width_total = span * 1.12

    def pct(x: float) -> str:
        return f"{100 * (x - first) / width_total:.2f}%"

    lanes = []
    for process in t.processes:
        bars = []
        for op in t.operations:
            if op.process != process:
                continue
            end = op.end if op.end is not None else first + width_total
            label = op.op + (f" → {op.result}" if op.result else "")
            if op.end is None:
                label += " (never returned)"
            cls = "op" if op.end is not None else "op pending"
            bars.append(
                f'<div class="{cls}" style="left:{pct(op.start)};width:calc('
                f'{pct(end)} - {pct(op.start)})" title="{escape(label)}">'
                f"{escape(label)}</div>"
            )
        lanes.append(
            f'<div class="lane"><span>process {escape(process)}</span>'
            f'<div class="track">{"".join(bars)}</div></div>'
        )
    axis = (
        f'<div class="axis"><span>t = {escape(bl.cell(first))}</span>'
        f"<span>t = {escape(bl.cell(last))}</span></div>"
    )
    rows = []
    for op in sorted(t.operations, key=lambda o: (o.start, o.process)):
        rows.append(
            (
                op.process,
                op.op,
                bl.cell(op.start),
                "never" if op.end is None else bl.cell(op.end),
                op.result,
            )
        )
    table = _table(
        bl.Table(("process", "operation", "invoked", "returned", "result"), tuple(rows))
    )
    return (
        f'<div class="timeline" role="group" aria-label="timeline of operations">'
        f"{''.join(lanes)}{axis}</div>{table}"
    )


def render_blocks(items: list[bl.Block]) -> str:
    out = []
    for block in items:
        if isinstance(block, bl.Paragraph):
            if block.role == "failure":
                what = _text(block.text)
                out.append(f'<p class="failure"><b>What goes wrong:</b> {what}</p>')
            else:
                out.append(f"<p>{_text(block.text)}</p>")
        elif isinstance(block, bl.Table):
            out.append(_table(block))
        elif isinstance(block, bl.Steps):
            out.append(_steps(block))
        elif isinstance(block, bl.Timeline):
            out.append(_timeline(block))
        else:
            out.append(f"<pre>{escape(block.text)}</pre>")
    return "".join(out)


def _figure(f: dict[str, Any], images: dict[str, bytes]) -> str:
    title = escape(f["title"])
    if not f["file"]:
        return f'<div class="omitted"><b>Figure: {title}.</b> {_text(f["note"])}</div>'
    data = base64.b64encode(images[f["file"]]).decode("ascii")
    note = f"<p>{_text(f['note'])}</p>" if f["note"] else ""
    numbers = ""
    if f.get("data"):
        numbers = (
            "<details><summary>The numbers behind the figure</summary>"
            + render_blocks(bl.present(f["data"]))
            + "</details>"
        )
    return (
        f'<figure id="figure-{escape(f["id"])}">'
        f'<img src="data:image/svg+xml;base64,{data}" alt="{escape(f["alt"])}" '
        f'width="720">'
        f"<figcaption><b>{title}.</b> {_text(f['caption'])}</figcaption>"
        f"{note}{numbers}</figure>"
    )


def _obligation(o: ObligationView) -> str:
    cls = f"obligation o-{o.verdict}" + ("" if o.met else " missed")
    if o.met:
        mark = '<span class="met">as expected</span>'
    else:
        mark = f'<span class="miss">expected {escape(o.expected)}</span>'
    facts = [
        ("Method", _text(o.method_text)),
        ("Bounds", _text(o.bounds)),
    ]
    if o.assumptions:
        facts.append(("Assumptions", "; ".join(_text(a) for a in o.assumptions)))
    if o.reason:
        facts.append(("Why undecided", _text(o.reason)))
    subject = f"<code>{escape(o.subject)}</code>"
    if o.path:
        subject += f" in <code>{escape(o.path)}</code>"
    facts.append(("Subject", subject))
    if o.catches:
        facts.append(
            (
                "Catches",
                '<ul class="catches">'
                + "".join(
                    f'<li><a href="#variant-{escape(m["id"])}"><code>'
                    f"{escape(m['id'])}</code></a>: {_text(m['defect'])}</li>"
                    for m in o.catches
                )
                + "</ul>",
            )
        )
    else:
        facts.append(("Catches", "no faulty variant in this report"))
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    parts = [
        f'<section class="{cls}" id="{o.anchor}">',
        f"<h5><code>{escape(o.id)}</code> {_badge(o.verdict)} {mark}</h5>",
        f"<p>{_text(o.reading)}</p>",
    ]
    if o.formal:
        parts.append(_display(o.formal))
    parts.append(f'<dl class="facts">{dl}</dl>')
    if o.detail:
        parts.append(f"<p>{_text(o.detail)}</p>")
    if o.counterexample:
        parts.append(
            '<div class="evidence counterexample"><p class="label">Counterexample</p>'
            + render_blocks(o.counterexample)
            + "</div>"
        )
    if o.evidence:
        parts.append(
            '<div class="evidence"><p class="label">Evidence</p>'
            + render_blocks(o.evidence)
            + "</div>"
        )
    parts.append("</section>")
    return "".join(parts)


def _entry(e: EntryView, images: dict[str, bytes]) -> str:
    kind = KIND_LABEL[e.kind]
    parts = [
        f'<article class="entry" id="{e.anchor}">',
        f'<h3>{escape(e.id)} {escape(e.title)}<span class="kind">{kind}</span></h3>',
        f'<p class="label">{kind}, as the source states it:</p>',
        _display(e.statement),
        f"<p>{_text(e.paraphrase)}</p>",
    ]
    if e.readings:
        parts.append("<h4>Readings decided here</h4><ul>")
        parts += [f"<li>{_text(r)}</li>" for r in e.readings]
        parts.append("</ul>")
    parts += [_figure(f, images) for f in e.figures]
    if not e.declared:
        parts.append(
            '<p class="omitted"><b>Not yet covered:</b> no obligation decides this '
            "entry yet.</p>"
        )
    elif not e.obligations:
        parts.append("<p>No obligation of this entry was run for this report.</p>")
    for heading, group in e.groups:
        parts.append(f"<h4>{escape(heading)}</h4>")
        parts += [_obligation(o) for o in group]
    parts.append(_correction(e))
    if e.lives_in:
        parts.append(
            '<p class="lives">Where it lives: '
            + ", ".join(f"<code>{escape(p)}</code>" for p in e.lives_in)
            + ".</p>"
        )
    parts.append("</article>")
    return "".join(parts)


def _correction(e: EntryView) -> str:
    c = e.correction
    if c is None:
        return ""
    parts = [
        '<section class="corrected"><h4>Corrected statement</h4>',
        f"<p><b>{escape(e.correction_label)}</b> {_text(c['statement'])}</p>",
    ]
    if c["formal"]:
        parts.append(_display(c["formal"]))
    if c["backed_by"]:
        # Only obligations run for this report have a section to link to.
        ran = {o.id for o in e.obligations}
        parts.append(
            "<p>Backed by: "
            + ", ".join(
                f'<a href="#{html_id(i)}"><code>{escape(i)}</code></a>'
                if i in ran
                else f"<code>{escape(i)}</code>"
                for i in c["backed_by"]
            )
            + ".</p>"
        )
    parts.append("</section>")
    return "".join(parts)


def _variant(v: VariantView) -> str:
    if not v.caught_line:
        return ""
    s = v.data["shown"]
    return (
        f'<section class="variant" id="variant-{escape(v.id)}-caught">'
        f"<h3>Variant <code>{escape(v.id)}</code></h3>"
        f'<p>Caught by <a href="#{html_id(s["obligation"])}"><code>'
        f"{escape(s['obligation'])}</code></a>: expected "
        f"{_badge(s['expected'])}, reached {_badge(s['verdict'])}.</p>"
        '<div class="evidence counterexample">'
        + render_blocks(v.shown)
        + "</div></section>"
    )


def _contents(view: ReportView) -> str:
    items = [
        '<li><a href="#how-to-read">How to read this report</a></li>',
        '<li><a href="#index">Index</a></li>',
    ]
    for number, title, entries in view.sections:
        sub = "".join(
            f'<li><a href="#{e.anchor}">{escape(e.id)} {escape(e.title)}</a></li>'
            for e in entries
        )
        items.append(
            f'<li><a href="#section-{escape(number)}">{escape(number)}. '
            f"{escape(title)}</a><ol>{sub}</ol></li>"
        )
    items += [
        '<li><a href="#figures">Figures</a></li>',
        '<li><a href="#variants">Faulty variants</a></li>',
        '<li><a href="#reproducing">Reproducing this report</a></li>',
    ]
    return (
        '<nav class="contents" aria-label="Contents"><b>Contents</b><ol>'
        + "".join(items)
        + "</ol></nav>"
    )


def _index(view: ReportView) -> str:
    rows = []
    for e in view.entries:
        verdicts = (
            " ".join(
                f'<a href="#{o.anchor}" title="{escape(o.id)}">{_badge(o.verdict)}</a>'
                + (
                    ""
                    if o.met
                    else f'<span class="miss">expected {escape(o.expected)}</span>'
                )
                for o in e.obligations
            )
            or "—"
        )
        rows.append(
            f'<tr><td><a href="#{e.anchor}">{escape(e.id)}</a></td>'
            f"<td>{escape(e.title)}</td><td>{KIND_LABEL[e.kind].lower()}</td>"
            f"<td>{verdicts}</td><td>{_met_cell(e)}</td>"
            f"<td>{escape(e.status)}</td></tr>"
        )
    return (
        "<table><thead><tr><th>id</th><th>title</th><th>kind</th><th>verdicts</th>"
        "<th>all expected met</th><th>status</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _met_cell(e: EntryView) -> str:
    cls = {True: "met", False: "miss", None: "met"}[e.all_met]
    return f'<span class="{cls}">{escape(e.met_mark)}</span>'


def render(view: ReportView, images: dict[str, bytes]) -> str:
    """The page; ``images`` maps each figure's relative path to its bytes."""
    doc = view.doc
    s = doc["summary"]
    summary = "".join(
        f"<div><b>{value}</b>{escape(label)}</div>"
        for value, label in (
            (
                (
                    f"{len(s.get('entries_run', []))}/{s['entries']}",
                    "entries run",
                )
                if view.partial
                else (f"{s['entries_covered']}/{s['entries']}", "entries decided")
            ),
            (
                f"{s['expected_reached']}/{s['obligations']}",
                "expected verdicts reached",
            ),
            *((s["verdicts"][k], k.lower()) for k in s["verdicts"]),
            (
                f"{s['faulty_variants_caught']}/{s['faulty_variants']}",
                "faulty variants caught"
                + (
                    f" (of {s.get('faulty_variants_total', '?')} in all)"
                    if view.partial
                    else ""
                ),
            ),
        )
    )
    meanings = "".join(f"<li>{_badge(k)} {escape(v)}</li>" for k, v in VERDICT_MEANINGS)
    how = "".join(
        f"<p>{_markdown_inline(p)}</p>" for p in _paragraphs(view.how_to_read)
    )
    sections = []
    for number, title, entries in view.sections:
        sections.append(
            f'<section id="section-{escape(number)}"><h2>{escape(number)}. '
            f"{escape(title)}</h2>"
            + "".join(_entry(e, images) for e in entries)
            + "</section>"
        )
    figure_items = "".join(
        f'<li><a href="#{html_id(f["entry"])}">{escape(f["entry"])}</a>: '
        f"{escape(f['title'])}"
        + (f" — {_text(f['note'])}" if f["note"] else "")
        + "</li>"
        for f in view.figures
    )
    variant_rows = "".join(
        f'<tr id="variant-{escape(m["id"])}"><td><code>{escape(m["id"])}</code></td>'
        f"<td><code>{escape(m['subject'])}</code></td><td>{_text(m['defect'])}</td>"
        "<td>"
        + (
            ", ".join(
                f'<a href="#{html_id(i)}"><code>{escape(i)}</code></a>'
                for i in m["caught_by"]
            )
            or '<span class="miss">not caught</span>'
        )
        + "</td></tr>"
        for m in doc["mutants"]
    )
    reproduce = "".join(
        f"<tr><td>{escape(k)}</td><td><code>{escape(v)}</code></td></tr>"
        for k, v in view.reproduce_lines()
    )
    body = (
        '<div class="page">'
        + _contents(view)
        + "<main>"
        + f"<h1>{escape(doc['title'])}</h1>"
        + f'<p class="lede">{_markdown_inline(view.introduction)}</p>'
        + f'<div class="summary">{summary}</div>'
        + f'<section id="how-to-read"><h2>How to read this report</h2>{how}'
        + f"<ul>{meanings}</ul></section>"
        + f'<section id="index"><h2>Index</h2>{_index(view)}</section>'
        + "".join(sections)
        + f'<section id="figures"><h2>Figures</h2><ul>{figure_items}</ul></section>'
        + '<section id="variants"><h2>Faulty variants</h2>'
        + "".join(f"<p>{escape(p)}</p>" for p in view.variants_intro)
        + "<table><thead><tr><th>variant</th><th>subject</th><th>defect</th>"
        + f"<th>caught by</th></tr></thead><tbody>{variant_rows}</tbody></table>"
        + "".join(_variant(v) for v in view.variants)
        + "</section>"
        + '<section id="reproducing"><h2>Reproducing this report</h2>'
        + "<p>The report is generated, never edited: <code>mstheory report</code> "
        "runs every obligation and every faulty variant and writes "
        "<code>conformance.json</code> (the source of this page and of "
        "<code>conformance.md</code>), this page and <code>figures/</code>. Under "
        "the <code>ci</code> profile searches are derandomized and seeds fixed, "
        "and nothing that varies between runs (dates, timings, paths, machine "
        "names) is written, so two runs give the same bytes.</p>"
        + "<pre>python -m pip install -e . &amp;&amp; mstheory report --profile "
        + f"{escape(doc['profile'])}</pre>"
        + f"<table><tbody>{reproduce}</tbody></table></section>"
        + "</main></div>"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(doc['title'])}</title>\n"
        f"<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _paragraphs(lines: list[str]) -> list[str]:
    paras, current = [], []
    for line in lines:
        if line:
            current.append(line)
        elif current:
            paras.append(" ".join(current))
            current = []
    if current:
        paras.append(" ".join(current))
    return paras


def _markdown_inline(text: str) -> str:
    """The little Markdown the shared prose uses: `code` and *emphasis*."""
    out = []
    for n, part in enumerate(text.split("`")):
        if n % 2:
            out.append(f"<code>{escape(part)}</code>")
            continue
        pieces = part.split("*")
        for m, piece in enumerate(pieces):
            out.append(f"<em>{escape(piece)}</em>" if m % 2 else escape(piece))
    return "".join(out)


def load_images(out: Path, figures: list[dict[str, Any]]) -> dict[str, bytes]:
    return {f["file"]: (out / f["file"]).read_bytes() for f in figures if f["file"]}

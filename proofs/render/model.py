"""What the Markdown and HTML pages show, gathered once from the report document.

Both renderers walk the same :class:`ReportView`, so the two pages have the
same sections, the same order and the same words; they differ only in markup.
The view reads the document alone (``conformance.json``), never the code.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from proofs.render import blocks as bl

VERDICT_MEANINGS = (
    (
        "PROVED",
        "a solver or a symbolic derivation closed the claim, for the bounds stated.",
    ),
    ("REFUTED", "a concrete counterexample was found; it is shown."),
    (
        "CHECKED",
        "no counterexample within the stated search (examples, steps, "
        "sizes); evidence, not proof.",
    ),
    (
        "UNKNOWN",
        "undecided (a solver gave up, data was missing, the check "
        "broke); never a pass.",
    ),
)

KIND_LABEL = {"definition": "Definition", "theorem": "Theorem"}

AS_WRITTEN_LABEL = {
    "holds": "The statement holds as written.",
    "false": "The statement is false as written.",
    "ambiguous": "The statement is ambiguous as written.",
}


def markdown_anchor(heading: str) -> str:
    """The anchor a code host gives a Markdown heading."""
    text = heading.lower()
    keep = "".join(ch for ch in text if ch.isalnum() or ch in " -_")
    return keep.replace(" ", "-")


def html_id(entry_or_obligation: str) -> str:
    """``T4.2`` -> ``t4-2``; ``T4.2/some-slug`` -> ``t4-2--some-slug``."""
    return entry_or_obligation.lower().replace("/", "--").replace(".", "-")


@dataclass(frozen=True)
class ObligationView:
    data: dict[str, Any]
    catches: tuple[dict[str, Any], ...]
    counterexample: list[bl.Block]
    evidence: list[bl.Block]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.data[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def anchor(self) -> str:
        return html_id(self.data["id"])

    @property
    def method_text(self) -> str:
        """The declared method and, when it says more, how the verdict was reached."""
        method, how = str(self.data["method"]), str(self.data["how"])
        if how.lower().startswith(method.lower()) or not how:
            return how or method
        return f"{method}: {how}"

    @property
    def holds(self) -> bool:
        """Whether the obligation states something expected to be true."""
        return bool(self.data["expected"] != "REFUTED")


@dataclass(frozen=True)
class EntryView:
    data: dict[str, Any]
    obligations: tuple[ObligationView, ...]
    figures: tuple[dict[str, Any], ...]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.data[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def anchor(self) -> str:
        return html_id(self.data["id"])

    @property
    def md_anchor(self) -> str:
        return markdown_anchor(f"{self.data['id']} {self.data['title']}")

    @property
    def declared(self) -> bool:
        return bool(self.data["obligations"])

    @property
    def correction(self) -> dict[str, Any] | None:
        """The corrected statement, if the document has one for this entry."""
        corrected = self.data.get("corrected")
        return dict(corrected) if corrected else None

    @property
    def correction_label(self) -> str:
        """What the source's statement is worth, as a sentence opener."""
        c = self.correction
        return AS_WRITTEN_LABEL.get(c["as_written"], "") if c else ""

    @property
    def met_mark(self) -> str:
        """Whether every expected verdict of this entry was reached, in words."""
        m = self.data.get("expected_met")
        if not m or not m["run"]:
            return "—"
        word = "yes" if m["all"] else "no"
        return f"{word} ({m['reached']}/{m['run']})"

    @property
    def all_met(self) -> bool | None:
        """True or False when something ran; None when nothing did."""
        m = self.data.get("expected_met")
        if not m or not m["run"]:
            return None
        return bool(m["all"])

    @property
    def groups(self) -> Iterator[tuple[str, tuple[ObligationView, ...]]]:
        """Obligations split into what fails as written and what holds."""
        refuted = tuple(o for o in self.obligations if not o.holds)
        holds = tuple(o for o in self.obligations if o.holds)
        if refuted:
            yield "What fails as written", refuted
        if holds:
            yield ("What holds instead" if refuted else "What holds"), holds


@dataclass(frozen=True)
class VariantView:
    data: dict[str, Any]
    #: How one catching obligation saw the defect (empty: caught by none).
    shown: list[bl.Block]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.data[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def caught_line(self) -> str:
        """Which obligation's verdict is shown, and how it missed."""
        s = self.data.get("shown")
        if not s:
            return ""
        return (
            f"Caught by {s['obligation']}: expected {s['expected']}, "
            f"reached {s['verdict']}."
        )


def variant_blocks(shown: dict[str, Any] | None) -> list[bl.Block]:
    """The counterexample a catching obligation found, or what it reached."""
    if not shown:
        return []
    blocks = bl.present(shown.get("counterexample"))
    if blocks:
        return blocks
    said = shown.get("detail") or shown.get("reason")
    return [bl.Paragraph(str(said))] if said else []


@dataclass
class ReportView:
    doc: dict[str, Any]
    entries: list[EntryView] = field(init=False)
    sections: list[tuple[str, str, list[EntryView]]] = field(init=False)
    figures: list[dict[str, Any]] = field(init=False)
    variants: list[VariantView] = field(init=False)

    def __post_init__(self) -> None:
        doc = self.doc
        self.variants = [
            VariantView(m, variant_blocks(m.get("shown"))) for m in doc["mutants"]
        ]
        obligations = {o["id"]: o for o in doc["obligations"]}
        self.figures = list(doc.get("figures", ()))
        self.entries = []
        for c in doc["catalogue"]:
            views = []
            for ob_id in c["obligations"]:
                if ob_id not in obligations:
                    continue
                o = obligations[ob_id]
                catches = tuple(m for m in doc["mutants"] if ob_id in m["caught_by"])
                views.append(
                    ObligationView(
                        o,
                        catches,
                        bl.present(o.get("counterexample")),
                        bl.present(o.get("evidence")),
                    )
                )
            figures = tuple(f for f in self.figures if f["entry"] == c["id"])
            self.entries.append(EntryView(c, tuple(views), figures))
        self.sections = []
        for e in self.entries:
            if not self.sections or self.sections[-1][0] != e.section:
                titles = doc.get("sections", {})
                self.sections.append((e.section, titles.get(e.section, ""), []))
            self.sections[-1][2].append(e)

    def entry(self, entry_id: str) -> EntryView:
        return next(e for e in self.entries if e.id == entry_id)

    # Words shared by both pages ----------------------------------------------

    @property
    def partial(self) -> bool:
        """Whether only a selection of the obligations ran (``--only``)."""
        return bool(self.doc["summary"].get("partial", False))

    @property
    def introduction(self) -> str:
        if not self.partial:
            return (
                "This report takes every definition and theorem of the theory of "
                "microservice architecture under its own number, states it as the "
                "source writes it, says precisely which readings of it the suite "
                "decides, and shows what a machine concluded about each: proved, "
                "refuted with a counterexample, or checked over a stated search. "
                "Where a statement is false as written, the corrected statement "
                "that does hold stands next to it. Every check is shown to fail "
                "on at least one deliberately faulty variant of the code it "
                "checks, so a verdict here is evidence, not decoration."
            )
        s = self.doc["summary"]
        run = s.get("entries_run", [])
        return (
            "This is a partial report: only the obligations selected with "
            f"`--only` ran ({s['obligations']} of the "
            f"{s.get('obligations_total', s['obligations'])} the suite has), and "
            f"they decide readings of {_count(len(run), 'entry', 'entries')} "
            f"({', '.join(run) or 'none'}). Every entry is still stated as the "
            "source writes it, with its readings and corrected statement, but "
            "only the verdicts of the selected obligations are shown. Only the "
            "faulty variants of the code those obligations examine were run "
            f"({s['faulty_variants']} of the "
            f"{s.get('faulty_variants_total', s['faulty_variants'])} the suite "
            "has), and a variant counts as caught here only when one of the "
            f"selected obligations misses its expected verdict on it: "
            f"{s['faulty_variants_caught']} of the {s['faulty_variants']} run "
            "were caught. The full report, made without `--only`, tries every "
            "check against every faulty variant."
        )

    @property
    def summary_lines(self) -> list[str]:
        """The summary under the title, one line each."""
        s = self.doc["summary"]
        verdicts = ", ".join(f"{k} {v}" for k, v in s["verdicts"].items())
        if not self.partial:
            return [
                f"Definitions and theorems: {s['entries']}, of which "
                f"{s['entries_covered']} are decided by at least one obligation.",
                f"Obligations: {s['obligations']} run, {s['expected_reached']} "
                "reached their expected verdict.",
                f"Verdicts: {verdicts}.",
                f"Faulty variants: {s['faulty_variants']}, of which "
                f"{s['faulty_variants_caught']} are caught.",
            ]
        run = s.get("entries_run", [])
        return [
            f"Definitions and theorems: {s['entries']}; this partial report runs "
            f"obligations of {len(run)} of them ({', '.join(run) or 'none'}).",
            f"Obligations: {s['obligations']} of "
            f"{s.get('obligations_total', s['obligations'])} selected and run, "
            f"{s['expected_reached']} reached their expected verdict.",
            f"Verdicts: {verdicts}.",
            f"Faulty variants: {s['faulty_variants']} of "
            f"{s.get('faulty_variants_total', s['faulty_variants'])} run (those "
            "of the code the selected obligations examine), of which "
            f"{s['faulty_variants_caught']} are caught by the selected "
            "obligations.",
        ]

    @property
    def how_to_read(self) -> list[str]:
        return [
            "Each entry opens with the statement as the source writes it and a "
            "paraphrase in plain words. The *readings* that follow are the "
            "precise claims the suite settles; a statement that can be read "
            "several ways gets several readings, some true and some false. Each "
            "reading is decided by one or more *obligations*: a claim with an "
            "identifier (such as `T4.2/redundancy-increasing`), a method (a "
            "solver, symbolic algebra, a property-based search, a simulation), "
            "the verdict it is expected to reach, and the verdict it did "
            "reach. An obligation that misses its expected verdict is marked.",
            "",
            "Obligations are grouped under *what fails as written* (claims "
            "expected to be refuted, each with its counterexample) and *what "
            "holds* (the corrected statements, proved or checked). Under each "
            "obligation are its bounds and assumptions, which say how far the "
            "verdict reaches, and the *faulty variants* it catches: small "
            "re-implementations of known defects on which the obligation "
            "fails, as it should. Each entry ends with its *corrected "
            "statement*: whether the statement holds as written, is false or "
            "is ambiguous, what does hold, and the proved or checked "
            "obligations that back it. The index says for each entry whether "
            "every obligation run reached its expected verdict.",
            "",
            "The four verdicts:",
        ]

    @property
    def variants_intro(self) -> list[str]:
        return [
            "Each faulty variant re-implements a known defect in a copy of the "
            "code an obligation examines. It is *caught* by every obligation "
            "that, run on the variant, misses its expected verdict. A variant "
            "no obligation catches would mean the suite cannot see that "
            "defect; an obligation that catches none would prove nothing. "
            "Below the table, each caught variant shows how one obligation "
            "that caught it saw the defect: its counterexample (for a race, "
            "the clients' calls and the schedule that replays it), or what it "
            "reached instead of the refutation it expected."
        ]

    def reproduce_lines(self) -> list[tuple[str, str]]:
        """(label, value) pairs describing how this report was produced."""
        p = self.doc.get("profile_settings", {})
        pairs = [("profile", self.doc["profile"])]
        labels = {
            "examples": "Hypothesis examples per property",
            "steps": "steps per stateful run",
            "trials": "simulation trials",
            "max_n": "largest bounded size",
            "solver_timeout_ms": "solver timeout per query (ms)",
            "derandomize": "derandomized",
        }
        for key, label in labels.items():
            if key in p:
                pairs.append((label, bl.cell(p[key])))
        return pairs

    @property
    def reproduce_md(self) -> list[str]:
        lines = [
            "The report is generated, never edited: `mstheory report` runs every "
            "obligation and every faulty variant and writes `conformance.json` "
            "(the source of both pages), `conformance.md`, `conformance.html` "
            "and `figures/`. Under the `ci` profile, used here, searches are "
            "derandomized and seeds fixed, and nothing that varies between runs "
            "(dates, timings, paths, machine names) is written, so two runs give "
            "the same bytes.",
            "",
            "```sh",
            "python -m pip install -e . && mstheory report --profile "
            f"{self.doc['profile']}",
            "```",
            "",
        ]
        lines += [f"- {label}: {value}" for label, value in self.reproduce_lines()]
        return lines


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"

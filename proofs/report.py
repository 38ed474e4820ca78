"""The conformance report: ``conformance.json``, ``.md``, ``.html`` and figures.

The JSON document is the source; the Markdown and the HTML are rendered from it
alone (:mod:`proofs.render`), so anything a reader sees can be found in the
machine-readable file. The figures (:mod:`proofs.figures`) are drawn first and
described in the document under ``figures``. Everything is reproducible: no
dates, no timings, no machine names or paths, fixed seeds and image metadata,
so under the derandomized ``ci`` profile two runs produce the same bytes.

The document's keys: ``title``, ``profile`` and ``profile_settings``,
``summary``, ``sections`` (number to title), ``catalogue`` (each definition and
theorem: ``id``, ``kind``, ``title``, ``section``, ``statement``,
``paraphrase``, ``readings``, ``corrected`` (``as_written``, ``statement``,
``formal``, ``backed_by``), ``coverage``, ``status``, ``expected_met``
(``all``, ``reached``, ``run``), ``obligations``, ``lives_in``),
``obligations`` (``id``, ``theorem``, ``reading``, ``formal``, ``method``,
``subject``, ``path``, ``expected``, ``verdict``, ``met``,
``bounds``, ``searched``, ``how``, ``counterexample``, ``evidence``,
``reason``, ``assumptions``, ``detail``), ``mutants`` (``id``, ``defect``,
``subject``, ``caught_by``, ``outcomes``, ``shown``: one catching
obligation's ``obligation``, ``expected``, ``verdict``, ``counterexample``,
``detail`` and ``reason``) and ``figures`` (see
:class:`proofs.figures.FigureRecord`).

Every file is rendered and written beside its destination first (figures
included), and only then moved into place, so a failure while rendering or
writing (a bug, a full disk) leaves the previous report intact and no
temporary files behind.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from proofs import figures as figures_mod
from proofs.catalogue import ENTRIES, SECTIONS, Entry
from proofs.data import PROJECT_ROOT
from proofs.obligation import Obligation, all_mutants
from proofs.profiles import Profile
from proofs.render import html as html_mod
from proofs.render import markdown as markdown_mod
from proofs.render.mathml import FormulaError
from proofs.render.model import ReportView
from proofs.runner import MutantResult, Result
from proofs.verdict import Outcome

Document = dict[str, Any]


class ReportError(OSError):
    """The report could not be written where asked."""


def build(
    profile: Profile,
    results: Sequence[Result],
    mutants: Sequence[MutantResult],
    all_obligations: Sequence[Obligation],
) -> Document:
    """The report as plain data: catalogue, obligations, faulty variants."""
    by_entry: dict[str, list[Obligation]] = {entry.id: [] for entry in ENTRIES}
    for ob in all_obligations:
        by_entry[ob.entry].append(ob)
    met = {r.obligation.id: r.met for r in results}
    expected = {ob.id: ob.expected.value for ob in all_obligations}

    catalogue = []
    for entry in ENTRIES:
        obs = by_entry[entry.id]
        ran = [ob.id for ob in obs if ob.id in met]
        if not obs:
            coverage, status = "not yet covered", "not yet covered"
        else:
            coverage = f"covered by {len(obs)} obligation{'s' * (len(obs) != 1)}"
            if not ran:
                status = "not run"
            elif all(met[i] for i in ran):
                status = "all expected verdicts reached"
            else:
                status = "some expected verdicts missed"
        reached = sum(met[i] for i in ran)
        catalogue.append(
            {
                "id": entry.id,
                "kind": entry.kind,
                "title": entry.title,
                "section": entry.section,
                "statement": entry.statement,
                "paraphrase": entry.paraphrase,
                "readings": list(entry.readings),
                "corrected": _correction(entry),
                "coverage": coverage,
                "status": status,
                "expected_met": {
                    "all": bool(ran) and reached == len(ran),
                    "reached": reached,
                    "run": len(ran),
                },
                "obligations": [ob.id for ob in obs],
                "lives_in": sorted(
                    {path for ob in obs if (path := source_path(ob.subject))}
                ),
            }
        )

    obligations = []
    for r in results:
        ob, v = r.obligation, r.verdict
        obligations.append(
            {
                "id": ob.id,
                "theorem": ob.entry,
                "reading": ob.reading,
                "formal": ob.formal,
                "method": str(ob.method),
                "subject": ob.subject,
                "path": source_path(ob.subject),
                "expected": ob.expected.value,
                "verdict": v.outcome.value,
                "met": r.met,
                "bounds": _bounds_text(v.bounds, v.searched),
                "searched": dict(v.searched),
                "how": v.method,
                "counterexample": v.counterexample,
                "evidence": v.evidence,
                "reason": v.reason,
                "assumptions": list(v.assumptions),
                "detail": v.detail,
            }
        )

    variants = [
        {
            "id": m.mutant.id,
            "defect": m.mutant.defect,
            "subject": m.mutant.subject,
            "caught_by": list(m.caught_by),
            "outcomes": {i: v.outcome.value for i, v in m.verdicts.items()},
            "shown": _shown_catch(m, expected),
        }
        for m in mutants
    ]

    counts = {o.value: sum(r.verdict.outcome is o for r in results) for o in Outcome}
    # A report of a selection says so: which entries it ran obligations of,
    # and how many obligations and faulty variants exist in all.
    partial = {r.obligation.id for r in results} != {ob.id for ob in all_obligations}
    return {
        "title": "Microservice theory: conformance report",
        "profile": profile.name,
        "profile_settings": {k: v for k, v in asdict(profile).items() if k != "name"},
        "summary": {
            "entries": len(ENTRIES),
            "entries_covered": sum(1 for c in catalogue if c["obligations"]),
            "obligations": len(results),
            "expected_reached": sum(r.met for r in results),
            "verdicts": counts,
            "faulty_variants": len(variants),
            "faulty_variants_caught": sum(1 for m in variants if m["caught_by"]),
            "partial": partial,
            "entries_run": [
                e.id for e in ENTRIES if any(ob.id in met for ob in by_entry[e.id])
            ],
            "obligations_total": len(all_obligations),
            "faulty_variants_total": len(all_mutants()),
        },
        "sections": dict(SECTIONS),
        "catalogue": catalogue,
        "obligations": obligations,
        "mutants": variants,
    }


def _correction(entry: Entry) -> dict[str, Any] | None:
    c = entry.correction
    if c is None:
        return None
    return {
        "as_written": c.as_written,
        "statement": c.statement,
        "formal": c.formal,
        "backed_by": list(c.backed_by),
    }


def _shown_catch(m: MutantResult, expected: dict[str, str]) -> dict[str, Any] | None:
    """How one obligation that caught ``m`` saw the defect.

    The first catching obligation whose verdict carries a counterexample (a
    schedule, a shrunk example, a history, a model) is preferred; a variant
    caught only by a claim expected to be refuted shows what that claim
    reached instead.
    """
    if not m.caught_by:
        return None
    with_example = [i for i in m.caught_by if m.verdicts[i].counterexample is not None]
    chosen = (with_example or list(m.caught_by))[0]
    v = m.verdicts[chosen]
    return {
        "obligation": chosen,
        "expected": expected.get(chosen, ""),
        "verdict": v.outcome.value,
        "counterexample": v.counterexample,
        "detail": v.detail,
        "reason": v.reason,
    }


def source_path(module: str) -> str:
    """The file of ``module`` relative to the project root ('' if not found)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return ""
    if spec is None or not spec.origin:
        return ""
    try:
        return Path(spec.origin).resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return ""


def render_markdown(doc: Document) -> str:
    """``conformance.md`` for ``doc``."""
    return markdown_mod.render(ReportView(doc))


def render_html(doc: Document, images: dict[str, bytes]) -> str:
    """``conformance.html`` for ``doc``; ``images`` holds the figure files."""
    return html_mod.render(ReportView(doc), images)


def _bounds_text(bounds: str, searched: dict[str, Any] | Any) -> str:
    parts = [bounds] if bounds else []
    if searched:
        parts.append(", ".join(f"{k}: {v}" for k, v in sorted(dict(searched).items())))
    return "; ".join(parts) if parts else "unbounded (a proof)"


# Writing ---------------------------------------------------------------------


def check_writable(out: Path) -> None:
    """Fail early, before any work, if ``out`` cannot receive the report."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".probe-"):
            pass
    except OSError as exc:
        raise ReportError(
            f"cannot write the report to {out}: {exc.strerror or exc}"
        ) from exc


def write(doc: Document, out: Path) -> list[Path]:
    """Draw the figures and write the report into ``out``.

    Adds the figure records to ``doc`` (under ``figures``) before writing
    ``conformance.json``, so the JSON describes every file written.
    """
    check_writable(out)
    staging = Path(tempfile.mkdtemp(dir=out, prefix=".staging-"))
    try:
        doc["figures"] = [r.to_json() for r in figures_mod.render(doc, staging)]
        images = html_mod.load_images(staging, doc["figures"])
        try:
            pages = {
                "conformance.md": render_markdown(doc),
                "conformance.html": render_html(doc, images),
            }
        except FormulaError as exc:
            raise ReportError(f"cannot render the report: {exc}") from exc
        texts = {
            "conformance.json": json.dumps(doc, indent=2, ensure_ascii=False) + "\n",
            **pages,
        }
        for name, text in texts.items():
            with open(staging / name, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
            # Readable by everyone, whatever the staging directory's mode.
            os.chmod(staging / name, 0o644)
        for figure in (staging / "figures").glob("*"):
            os.chmod(figure, 0o644)
        if (staging / "figures").is_dir():
            os.chmod(staging / "figures", 0o755)
        written = [out / name for name in texts]
        for name in texts:
            os.replace(staging / name, out / name)
        _replace_dir(staging / "figures", out / "figures")
        written += sorted((out / "figures").glob("*"))
    except OSError as exc:
        raise ReportError(f"cannot write the report to {out}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written


def _replace_dir(new: Path, final: Path) -> None:
    """Put ``new`` at ``final``, dropping files of an earlier run."""
    new.mkdir(exist_ok=True)
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}-old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
    os.replace(new, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)

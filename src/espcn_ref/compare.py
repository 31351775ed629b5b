"""Table 1 of the paper at x3: our rows beside the paper's, and paired t-tests.

Shi et al. (CVPR 2016), Table 1: mean PSNR (dB) at x3 of SRCNN and ESPCN
trained on the 91 images of Yang et al. (T91), on Set5, Set14, BSD300 (its
100 test images, our BSD100), BSD500 (its 200 test images) and SuperTexture
(not available offline, so not here).

A row is a label and a source: "bicubic", a shipped model's registry name
(:func:`espcn_ref.registry.list_pretrained`) or a model file. Every image is
scored by :func:`espcn_ref.evaluate.evaluate_images` (docs/protocol.md).
The label is the key: it finds the paper's values (``PAPER_X3``) and the
rows a t-test compares (``TTESTS``). Two rows A and B are compared by a
two-sided paired t-test on per-image PSNR (scipy.stats.ttest_rel)::

    d_i  = PSNR_A(i) - PSNR_B(i),  i = 1 .. n       (the same image i)
    t    = mean(d) / (sd(d) / sqrt(n))              sd with n - 1 degrees of freedom
    p    = 2 P(T_{n-1} > |t|)
    95% CI of mean(d) = mean(d) +- t_{0.975, n-1} sd(d) / sqrt(n)

``paired_ttest``, ``build_table`` and ``render_markdown`` are pure: they take
per-image scores, so tests feed them synthetic numbers. ``resolve_rows`` and
``evaluate_rows`` load the models and do the scoring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.stats

from .evaluate import evaluate_images
from .model import load_model
from .registry import list_pretrained, parse_pretrained, pretrained


@dataclass(frozen=True)
class Row:
    """One row of the table: its label (the key for PAPER_X3 and TTESTS), its source, a note."""

    label: str
    source: str  # "bicubic", a registry name (or pretrained:NAME), or a model file path
    note: str = ""


# The registry names of the Table 1 trainings (T91, bicubic LR, no augmentation,
# Adam). All three ship; in an installation without one of them its row stays empty.
TABLE1_NAMES = ("srcnn-915-t91", "espcn-relu-t91-paper", "espcn-t91-paper")

DEFAULT_ROWS = (
    Row("Bicubic", "bicubic"),
    Row("SRCNN (91)", "srcnn-915-t91"),
    Row("ESPCN (91 relu)", "espcn-relu-t91-paper"),
    Row("ESPCN (91 tanh)", "espcn-t91-paper"),
    Row("ESPCN (91 augmented)", "espcn-t91",
        "trained on T91 with flips, rotations and shrunk copies, which Table 1's rows do not use"),
)

TABLE1_SETS = ("Set5", "Set14", "BSD100", "BSD500")
PAPER_COLUMN = {"Set5": "Set5", "Set14": "Set14", "BSD100": "BSD300", "BSD500": "BSD500"}

# Table 1, x3, PSNR dB. The paper names the tanh row "ESPCN (91)".
PAPER_X3 = {
    "SRCNN (91)": {"Set5": 32.39, "Set14": 29.00, "BSD100": 28.21, "BSD500": 28.28},
    "ESPCN (91 relu)": {"Set5": 32.39, "Set14": 28.97, "BSD100": 28.20, "BSD500": 28.27},
    "ESPCN (91 tanh)": {"Set5": 32.55, "Set14": 29.08, "BSD100": 28.26, "BSD500": 28.34},
}

TTESTS = (("ESPCN (91 tanh)", "SRCNN (91)"), ("ESPCN (91 relu)", "SRCNN (91)"))


# --- rows -----------------------------------------------------------------------


def parse_row(spec: str) -> Row:
    """'LABEL=SOURCE' -> Row(LABEL, SOURCE); a bare 'SOURCE' is its own label."""
    label, sep, source = spec.partition("=")
    label, source = label.strip(), source.strip()
    if not sep:
        label = source = label
    if not label or not source:
        raise ValueError(f"a row is LABEL=SOURCE (SOURCE: bicubic, a shipped name or a model file), got {spec!r}")
    return Row(label, source)


def choose_rows(specs=(), only: bool = False, defaults=DEFAULT_ROWS) -> tuple[Row, ...]:
    """The table's rows: ``defaults`` with each given row replacing the default of
    its label in place, or appended if the label is new; with ``only``, just the given rows."""
    given = [parse_row(s) for s in specs]
    labels = [r.label for r in given]
    twice = sorted({l for l in labels if labels.count(l) > 1})
    if twice:
        raise ValueError(f"more than one row labelled {', '.join(map(repr, twice))}")
    if only:
        if not given:
            raise ValueError("only the given rows were asked for, but no row was given")
        return tuple(given)
    by_label = {r.label: r for r in given}
    rows = [by_label.pop(r.label, r) for r in defaults]
    return tuple(rows + list(by_label.values()))


def resolve_source(source: str, scale: int):
    """(method, missing): method is "bicubic" or a loaded model; or (None, "not shipped yet: NAME").

    A source with a '/' or ending in .npz is a model file (FileNotFoundError if
    absent). A name that is neither shipped nor in TABLE1_NAMES is a ValueError.
    """
    if source == "bicubic":
        return "bicubic", None
    if "/" in source or source.endswith(".npz"):
        return load_model(source, expect_scale=scale), None
    name = parse_pretrained(source) or source
    shipped = list_pretrained()
    if any(s["name"] == name and s["scale"] == scale for s in shipped):
        return pretrained(scale, weights=name), None
    names = sorted({s["name"] for s in shipped})
    if name in names:
        return None, f"not shipped at x{scale}: {name}"
    if name in TABLE1_NAMES:
        return None, f"not shipped yet: {name}"
    raise ValueError(f"unknown row source {source!r}: not bicubic, a shipped model ({', '.join(names)}), "
                     f"a Table 1 model ({', '.join(TABLE1_NAMES)}), nor a model file (.npz)")


def resolve_rows(rows, scale: int) -> list[dict]:
    """Every row with its method loaded, or why it is missing: [{"row", "method", "missing"}]."""
    resolved = []
    for row in rows:
        method, missing = resolve_source(row.source, scale)
        resolved.append({"row": row, "method": method, "missing": missing})
    return resolved


def evaluate_rows(resolved, images_by_set: dict, scale: int, progress=None) -> list[dict]:
    """Score every available row on every set: [{"label", "source", "note", "missing", "sets"}].

    images_by_set: {set name: {image name: uint8 image}}. "sets" maps a set to
    :func:`evaluate_images`'s result ({} for a missing row). progress(label, set, result)
    is called after each set.
    """
    results = []
    for item in resolved:
        row, per_set = item["row"], {}
        if item["missing"] is None:
            for s, images in images_by_set.items():
                per_set[s] = evaluate_images(item["method"], images, scale)
                if progress is not None:
                    progress(row.label, s, per_set[s])
        results.append({"label": row.label, "source": row.source, "note": row.note, "missing": item["missing"],
                        "sets": per_set})
    return results


# --- the paired t-test -------------------------------------------------------------


def critical_t(n: int, p: float = 0.001) -> float:
    """|t| a two-sided paired t-test on n pairs must exceed for p below ``p``: t_{1 - p/2, n-1}."""
    return float(scipy.stats.t.ppf(1.0 - p / 2.0, n - 1))


def paired_ttest(a, b) -> dict:
    """Two-sided paired t-test of a against b (same images, same order): A - B.

    a, b: (n,) per-image PSNRs. Returns {"n", "mean_diff", "ci95": {"low", "high"},
    "t", "p", "t_for_p001"} (t_for_p001: the |t| that p < 0.001 needs at this n);
    t, p and ci95 are None, with a "reason", when the test is undefined.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"a and b must be two (n,) arrays of paired scores, got shapes {a.shape} and {b.shape}")
    d = a - b  # (n,)
    n = d.size
    out = {"n": n, "mean_diff": float(d.mean()) if n else None, "ci95": None, "t": None, "p": None,
           "t_for_p001": critical_t(n) if n > 1 else None}
    if n < 2:
        return {**out, "reason": "fewer than 2 images"}
    if not np.all(np.isfinite(d)):
        return {**out, "reason": "an image has an infinite PSNR (identical to its ground truth)"}
    sd = float(d.std(ddof=1))
    if sd == 0.0:
        return {**out, "reason": "every image differs by the same amount (zero spread)"}
    res = scipy.stats.ttest_rel(a, b)  # two-sided
    half = float(scipy.stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return {**out, "ci95": {"low": out["mean_diff"] - half, "high": out["mean_diff"] + half},
            "t": float(res.statistic), "p": float(res.pvalue)}


def _psnrs(row: dict, s: str, names) -> list:
    return [row["sets"][s]["images"][name]["psnr"] for name in names]


def compare_rows(a: dict, b: dict, sets) -> dict:
    """t-tests of row a against row b on each set and pooled over all their images."""
    per, pooled_a, pooled_b = {}, [], []
    for s in sets:
        names = list(a["sets"][s]["images"])
        if set(names) != set(b["sets"][s]["images"]):
            raise ValueError(f"{a['label']!r} and {b['label']!r} were scored on different images of {s}")
        x, y = _psnrs(a, s, names), _psnrs(b, s, names)
        per[s] = paired_ttest(x, y)
        pooled_a += x
        pooled_b += y
    return {"sets": per, "pooled": paired_ttest(pooled_a, pooled_b)}


# --- the table ------------------------------------------------------------------


def build_table(results: list[dict], scale: int, pairs=TTESTS) -> dict:
    """The whole table as JSON-able dicts (rows and t-tests keyed by label, in order).

    results: :func:`evaluate_rows`'s list. Each row gains "paper" (Table 1's
    values at x3, or None), "average" (the mean of its set means: NOT the
    paper's Average) and "minus_paper" (ours - paper, dB).
    """
    sets = list(dict.fromkeys(s for r in results for s in r["sets"]))
    rows = {}
    for r in results:
        paper = PAPER_X3.get(r["label"]) if scale == 3 else None
        paper = {s: paper[s] for s in sets if s in paper} if paper else None
        complete = r["missing"] is None and all(s in r["sets"] for s in sets)
        average = ({k: float(np.mean([r["sets"][s][k] for s in sets])) for k in ("psnr", "ssim")}
                   if complete and sets else None)
        minus = {s: r["sets"][s]["psnr"] - v for s, v in (paper or {}).items() if s in r["sets"]}
        rows[r["label"]] = {**r, "paper": paper, "average": average, "minus_paper": minus or None}

    ttests = {}
    for la, lb in pairs:
        key = f"{la} - {lb}"
        absent = [f"{l} {rows[l]['missing'].split(':')[0]}" if l in rows else f"no row labelled {l!r}"
                  for l in (la, lb) if l not in rows or rows[l]["missing"]]
        if absent:
            ttests[key] = {"a": la, "b": lb, "available": False, "reason": f"not available: {'; '.join(absent)}"}
        else:
            ttests[key] = {"a": la, "b": lb, "available": True, **compare_rows(rows[la], rows[lb], sets)}
    return {
        "table": "Shi et al., CVPR 2016, Table 1",
        "scale": scale,
        "metric": f"PSNR (dB) and SSIM on Y, {scale} px shaved, per image; set means (docs/protocol.md)",
        "sets": sets,
        "images": {s: len(next(r["sets"][s]["images"] for r in results if s in r["sets"])) for s in sets},
        "rows": rows,
        "ttests": ttests,
        "notes": notes(sets, scale),
    }


def notes(sets, scale: int) -> list[str]:
    """The caveats printed under the table."""
    out = [
        "SuperTexture, Table 1's fifth set, is not available offline, so it has no column here.",
        f"{_average(sets)}: the mean of the set means. It is not the paper's Average, which includes "
        "SuperTexture; do not compare the two.",
    ]
    if "BSD100" in sets:
        out.append("BSD100 is the paper's BSD300 column: the 100 BSDS300 test images, in the EDSR-style "
                   "lossless copy; the paper's copy may decode the JPEGs slightly differently (about 0.01 dB).")
    if "BSD500" in sets:
        out.append("BSD500: the 200 test images BSDS500 added, the JPEGs as released.")
    if "Set5" in sets and "Set14" in sets:
        out.append("Set14's face is Set5's head with 2 px cropped from each side, so the pooled images are "
                   "not all distinct.")
    if scale != 3:
        out.append(f"Table 1 is at x3: there are no paper values at x{scale}.")
    out.append("t-tests: two-sided, paired on per-image PSNR (scipy.stats.ttest_rel); A - B > 0 means A "
               f"scores higher. With n = 5 (Set5), p < 0.001 needs |t| > {critical_t(5):.2f} (4 degrees of "
               "freedom). The paper claims a significant difference only for its ImageNet-trained model.")
    return out


# --- markdown ----------------------------------------------------------------------


def _average(sets) -> str:
    return f"Average of our {len(sets)} sets" if len(sets) > 1 else "Average (one set)"


def _num(v, digits=2, signed=False) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:+.{digits}f}".replace("-", "−") if signed else f"{v:.{digits}f}"


def _p(p) -> str:
    return "–" if p is None else (f"{p:.1e}" if p < 0.001 else f"{p:.3f}")


def _line(cells) -> str:
    return "| " + " | ".join(cells) + " |"


def _row_source(r: dict) -> str:
    return f"`{r['source']}`, {r['missing'].split(':')[0]}" if r["missing"] else f"`{r['source']}`"


def render_markdown(table: dict) -> str:
    """table1.md: PSNR beside the paper's, SSIM, ours - paper, the t-tests, the notes."""
    sets, rows = table["sets"], table["rows"]
    with_paper = any(r["paper"] for r in rows.values())
    avg = f"{_average(sets)} ²"
    n_img = table["images"]
    head = ["row", "weights"]
    for s in sets:
        head.append(f"{s} ({n_img.get(s, '?')})")
        if with_paper:
            head.append(f"paper{' ' + PAPER_COLUMN[s] if PAPER_COLUMN.get(s, s) != s else ''}")
    lines = [f"# {table['table']}, ×{table['scale']}", "",
             f"{table['metric']}. Paper: Table 1 of Shi et al. (2016), PSNR only. Missing cells: –.", "",
             "PSNR (dB) ¹", "", _line(head + [avg]), _line(["---"] * (len(head) + 1))]
    for label, r in rows.items():
        cells = [label, _row_source(r)]
        for s in sets:
            cells.append(_num(r["sets"][s]["psnr"]) if s in r["sets"] else "–")
            if with_paper:
                cells.append(_num((r["paper"] or {}).get(s)))
        lines.append(_line(cells + [_num(r["average"] and r["average"]["psnr"])]))
    lines.append("")
    lines += [f"- {label}: {r['missing'] or r['note']}." for label, r in rows.items() if r["missing"] or r["note"]]
    lines += ["", "SSIM", "", _line(["row"] + sets + [avg]), _line(["---"] * (len(sets) + 2))]
    for label, r in rows.items():
        if not r["missing"]:
            lines.append(_line([label] + [_num(r["sets"][s]["ssim"], 4) for s in sets]
                               + [_num(r["average"] and r["average"]["ssim"], 4)]))
    minus = {label: r["minus_paper"] for label, r in rows.items() if r["minus_paper"]}
    if minus:
        lines += ["", "Ours − paper (dB)", "", _line(["row"] + sets), _line(["---"] * (len(sets) + 1))]
        lines += [_line([label] + [_num(m.get(s), signed=True) for s in sets]) for label, m in minus.items()]
    lines += ["", "Paired t-tests on per-image PSNR, A − B", "",
              _line(["A − B", "set", "n", "mean diff (dB)", "95% CI (dB)", "t", "p", "p < 0.001 needs \\|t\\| >"]),
              _line(["---"] * 8)]
    for key, tt in table["ttests"].items():
        name = key.replace(" - ", " − ")
        if not tt["available"]:
            lines.append(_line([name, tt["reason"]] + [""] * 6))
            continue
        for where, res in list(tt["sets"].items()) + [("pooled", tt["pooled"])]:
            ci = res["ci95"]
            lines.append(_line([name, where, str(res["n"]), _num(res["mean_diff"], 3, signed=True),
                                f"{_num(ci['low'], 3, True)} … {_num(ci['high'], 3, True)}" if ci else "–",
                                _num(res["t"]), _p(res["p"]), _num(res["t_for_p001"])]))
    lines += ["", "¹ " + table["notes"][0], "² " + table["notes"][1]] + [f"- {n}" for n in table["notes"][2:]]
    return "\n".join(lines) + "\n"

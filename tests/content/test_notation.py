"""One notation everywhere (design §4): the table in appendices/notation.md, used by every chapter.

The drift this catches is the kind that creeps in from other texts: d_k for the query/key width,
W^Q or W_q for the projections, K^T for a transpose, \\sqrt{d_k} or a missing \\sqrt{d} in the
formula, n for the target length and m for the source's. Each rule is tested on a sample of the
drift it must catch, so that none can pass vacuously.
"""
import re

import pytest

from tests.helpers import ROOT

CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.md"))
NOTATION = ROOT / "appendices" / "notation.md"

#: The symbols of design §4, as the notation page writes them in its table's first column.
SECTION_4_ROWS = [
    "$m$", "$n$", "$d$", "$d_v$", "$h$", "$X$", "$S$", "$Q = XW_Q$, $K = SW_K$, $V = SW_V$",
    r"$A = \mathrm{softmax}(QK^\top/\sqrt{d})$", "$O = AV$", r"$\mathrm{mask}[i, j] = \mathrm{True}$",
]
CANONICAL = r"\mathrm{softmax}(QK^\top/\sqrt{d})"


def prose(text: str) -> str:
    """A MyST page without its front matter, code cells, fenced code blocks and inline code."""
    if text.startswith("---\n"):
        text = text[text.find("\n---\n", 4) + 5:]
    text = re.sub(r"^(`{3,})[^\n]*\n.*?^\1\s*$", "", text, flags=re.S | re.M)  # ```{code-cell}, ```bash, ...
    return re.sub(r"`[^`\n]*`", "", text)


def math_spans(text: str) -> list[str]:
    """The math of a page: $$...$$ blocks and $...$ inline, outside code."""
    body = prose(text)
    spans = re.findall(r"\$\$(.+?)\$\$", body, flags=re.S)
    body = re.sub(r"\$\$(.+?)\$\$", " ", body, flags=re.S)
    return spans + re.findall(r"(?<!\\)\$([^$\n]+?)(?<!\\)\$", body)


#: (pattern in math, what to write instead). Patterns match the competing notations.
MATH_RULES = [
    (r"\bd_\{?\s*(?:\\(?:mathrm|text|rm)\s*\{?\s*)?(?:k|q|qk|K|Q|key|query)\b", "the query/key width is $d$ (not d_k or d_q)"),
    (r"\bd_\{\s*[a-z]{2,}\s*\}|\bd_\{?\s*\\(?:text|rm)\s*\{?\s*[a-z]{2,}",
     r"a width's word subscript is upright, as in the other chapters: $d_\mathrm{model}$, $d_\mathrm{head}$, $d_\mathrm{ff}$"),
    (r"\bW\s*\^\s*\{?\s*[QKVO]\b", "projections are written $W_Q$, $W_K$, $W_V$, $W_O$ (subscript), not W^Q"),
    (r"\bW_\{?\s*(?:\\(?:mathrm|text)\{)?[qkvo]\b", "projections take a capital subscript: $W_Q$, $W_K$, $W_V$, $W_O$"),
    (r"(?<![a-z\\])[QKVXSAPW](?:_\{?\w+\}?)?\s*\^\s*\{?\s*(?:T|\\mathsf\{T\}|\\mathrm\{T\}|\\intercal)\s*\}?(?![A-Za-z])",
     r"write a transpose as ^\top: $QK^\top$"),
    (r"(?<![\w\\])(?:KQ\^\\top|Q\^\\top\s*K(?![\w^]))", r"the scores are $QK^\top$ ($m \times n$, one row per query)"),
    (r"(?<![\w\\{])softmax|\\(?:text|operatorname|textrm|mathit)\s*\{\s*softmax", r"write $\mathrm{softmax}$"),
    (r"(?<![\w\\])[nNmMTLl]_\{?\s*(?:\\(?:mathrm|text)\s*\{\s*)?(?:q|k|kv|src|tgt|x|y|query|key|source|target)\b",
     "lengths are $m$ (target, queries) and $n$ (source, keys and values)"),
]


def _normalise(formula: str) -> str:
    """Formula text without spacing commands, \\left/\\right, and with \\frac{a}{b} written a/b."""
    formula = re.sub(r"\\left|\\right|\\!|\\,|\\;|\\quad|\s+", "", formula)
    return re.sub(r"\\frac\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}", r"\1/\2", formula)


def notation_problems(text: str) -> list[str]:
    """Every departure from §4 on a page, one sentence each."""
    problems = []
    spans = math_spans(text)
    for span in spans:
        for pattern, fix in MATH_RULES:
            for found in sorted({m.group(0) for m in re.finditer(pattern, span)}):
                problems.append(f"${span.strip()[:70]}$: {found!r} — {fix}")
        flat = _normalise(span)
        # A scaled score divides by exactly \sqrt{d}.
        for denominator in re.findall(r"K(?:_\w|\))?\^\\top\)?/((?:\\sqrt\{[^}]*\}|[^/)$,]+))", flat):
            if denominator != r"\sqrt{d}":
                problems.append(f"${span.strip()[:70]}$: scores scaled by {denominator!r} — scale by $\\sqrt{{d}}$")
    writes_formula = any(re.search(r"softmax\}.*K\^\\top", _normalise(s)) for s in spans)
    if writes_formula and not any(CANONICAL in _normalise(s) for s in spans):
        problems.append(f"the page writes the attention formula but never in the form ${CANONICAL}$ of §4")
    # Shapes: the target side (X, Q, A, O) has m rows, the source side (S, K, V) has n rows.
    body = prose(text)
    for symbol, wrong in (("XQAO", "n"), ("SKV", "m")):
        right = "m" if wrong == "n" else "n"
        shape = rf"(?:\\in\s*\\mathbb\{{R\}}\^\{{|\$\s*\(\$)\s*{wrong}\s*\\times"
        for match in re.finditer(rf"(?<![\w\\])([{symbol}])(?:\s*=[^$,;]*?)?\s*{shape}", body):
            problems.append(f"{match.group(0)!r}: {match.group(1)} has {right} rows, not {wrong}")
    # Masks: where the prose builds one, it states the convention and what a fully masked query gets.
    if re.search(r"(?i)padding mask|causal mask|\bmask\[", body):
        if not re.search(r"may attend", body):
            problems.append("the page uses masks but never says that True means 'may attend'")
        if not re.search(r"(?i)(never|not|instead of|rather than)\s+(a\s+)?NaN", body):
            problems.append("the page uses masks but never says a fully masked query gets zeros, not NaN")
    return problems


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_chapter_uses_the_course_notation(path):
    problems = notation_problems(path.read_text(encoding="utf-8"))
    assert not problems, f"{path.name} departs from the notation of design §4:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_math_is_found_on_every_chapter(path):
    # Guards the rules above against passing because the page's math was not read at all.
    assert len(math_spans(path.read_text(encoding="utf-8"))) >= 10


DRIFT = {
    "d_k": r"the scores are divided by $\sqrt{d_k}$",
    "d_{k}": r"keys have width $d_{k}$",
    r"d_\mathrm{k}": r"with $d_\mathrm{k} = 64$",
    "d_{head}": r"heads of width $d_{head}$",
    "d_{ff}": r"a hidden width $d_{ff}$",
    "d_text_model": r"width $d_\text{model}$",
    "d_{model}": r"$X \in \mathbb{R}^{m \times d_{model}}$",
    "W^Q": r"the projection $W^Q$",
    "W^{K}": r"the projection $W^{K}$",
    "W_q": r"$Q = X W_q$",
    "K^T": r"$A = \mathrm{softmax}(QK^T/\sqrt{d})$ and $\mathrm{softmax}(QK^\top/\sqrt{d})$",
    "K^{\\mathsf{T}}": r"$QK^{\mathsf{T}}$",
    "KQ^T": r"the scores $KQ^\top$",
    "text softmax": r"$\text{softmax}(QK^\top/\sqrt{d})$",
    "bare softmax": r"$softmax(QK^\top/\sqrt{d})$",
    "T_q": r"a target of $T_q$ tokens",
    "n_k": r"a source of $n_{k}$ tokens",
    "L_src": r"a source of $L_\mathrm{src}$ tokens",
    "scaled by d": r"$\mathrm{softmax}(QK^\top/d)$ and $\mathrm{softmax}(QK^\top/\sqrt{d})$",
    "frac with d_model": r"$$\mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{d_\mathrm{model}}}\right)$$",
    "formula never canonical": r"$A = \mathrm{softmax}(K^\top Q)$",
    "A is n x m": r"weights $A \in \mathbb{R}^{n \times m}$",
    "Q with n rows": r"$Q = XW_Q \in \mathbb{R}^{n \times d}$",
    "K with m rows": r"the keys $K$ ($m \times d$)",
    "mask without convention": "A padding mask blocks the padded keys; a fully masked row gets zeros, never NaN.",
    "mask without NaN": "A padding mask has True where a query may attend.",
}


@pytest.mark.parametrize("sample", DRIFT.values(), ids=DRIFT.keys())
def test_each_rule_catches_its_drift(sample):
    text = "# 9. A page\n\n" + sample + "\n"
    assert notation_problems(text), f"not caught: {sample}"


def test_course_notation_passes():
    text = ("# 9. A page\n\n$L_\\mathrm{enc}$ and $L_{dec}$ layers. $Q = XW_Q$, $K = SW_K$, $V = SW_V$; $A = \\mathrm{softmax}(QK^\\top/\\sqrt{d}) "
            "\\in \\mathbb{R}^{m \\times n}$, $O = AV \\in \\mathbb{R}^{m \\times d_v}$, $S$ ($n \\times d_\\mathrm{model}$).\n"
            "A padding mask has True where a query may attend; a fully masked query gets zeros, never NaN.\n")
    assert notation_problems(text) == []


def test_notation_page_is_design_section_4():
    text = NOTATION.read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| $")]
    assert [row.split(" | ")[0].removeprefix("| ") for row in rows] == SECTION_4_ROWS
    assert len(re.findall(r"^\| symbol \| meaning \| shape \|$", text, flags=re.M)) == 1, "one table"
    assert "may attend" in text and "never NaN" in text and "scaled_dot_product_attention" in text
    assert notation_problems(text) == []

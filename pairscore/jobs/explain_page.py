"""A self-contained HTML page of one /explain answer (`pairscore explain --html`): both texts side by side,
each token shaded by its weight (darkest = the text's heaviest token), the weight in its tooltip."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from pairscore import tasks

STYLE = """
body { font: 16px/1.5 system-ui, sans-serif; margin: 2rem; color: #1b1b1b; }
.texts { display: grid; grid-template-columns: 1fr 1fr; gap: 2rem; }
.text { border: 1px solid #ccc; border-radius: 6px; padding: 1rem; line-height: 2; }
.tok { border-radius: 3px; padding: 0.1em 0.15em; }
table { border-collapse: collapse; margin-top: 0.5rem; }
td, th { padding: 0.1rem 0.8rem 0.1rem 0; text-align: left; font-variant-numeric: tabular-nums; }
.muted { color: #666; font-size: 0.9em; }
"""


def shaded(text: str, side: dict[str, Any]) -> str:
    """The text as HTML, each token's span shaded by weight / the text's largest weight."""
    top = max(side["weights"], default=0.0) or 1.0
    out, cursor = [], 0
    for token, (start, end), weight in zip(side["tokens"], side["offsets"], side["weights"]):
        if start < cursor:  # pieces of one word share its span: shade it once, by the heaviest piece
            continue
        out.append(escape(text[cursor:start]))
        alpha = weight / top
        out.append(
            f'<span class="tok" style="background: rgba(220, 60, 30, {alpha:.3f})" '
            f'title="{escape(token)}: {weight:.3f}" data-weight="{weight:.6f}">{escape(text[start:end])}</span>'
        )
        cursor = end
    out.append(escape(text[cursor:]))
    return "".join(out)


def weights_table(side: dict[str, Any]) -> str:
    rows = "".join(f"<tr><td>{escape(t)}</td><td>{w:.3f}</td></tr>" for t, w in zip(side["tokens"], side["weights"]))
    return f"<table><tr><th>token</th><th>weight</th></tr>{rows}</table>"


def render_page(answer: dict[str, Any], text_a: str, text_b: str) -> str:
    name_a, name_b = (name.replace("_", " ") for name in tasks.get(answer["task"]).texts)
    columns = "".join(
        f'<section><h2>{name}</h2><div class="text">{shaded(text, answer[side])}</div>'
        f"{weights_table(answer[side])}</section>"
        for name, text, side in ((name_a, text_a, "text_a"), (name_b, text_b, "text_b"))
    )
    how = {
        "winners": "each token's share of the sentence-vector dimensions it wins in the max pool",
        "occlusion": "how far the sentence vector moves when the token is left out (occlusion), normalized",
    }[answer["method"]]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pairscore explain: {escape(answer["task"])}</title>
<style>{STYLE}</style></head><body>
<h1>{escape(answer["task"])}</h1>
<pre id="result">{escape(json.dumps(answer["result"], indent=2))}</pre>
<p class="muted">Token weight: {how}. Darker = heavier.</p>
<div class="texts">{columns}</div>
</body></html>
"""

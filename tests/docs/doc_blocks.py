"""The runnable parts of the docs: fenced shell commands, the JSON answers shown after them, and how to compare.

A doc shows an example answer as a ```bash block followed by a ```json block. The JSON may
leave things out with `…` (outside strings): as a list's last item it shows a prefix of the
list (a vector's first numbers), as an object's last member it shows some of the keys.
A number shown with d decimals agrees with the real one within 10^-d (at most 1e-3: three
decimals or more); an integer must be equal. Regenerating renders the real answer in the
shape of the shown one: same keys and prefixes, same decimals, one line or indented as before.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ELLIPSIS = "…"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
EXPANDED_DEPTH = 1  # an indented answer opens the top two levels of objects; deeper ones stay on one line
DEFAULT_DECIMALS = 3  # the fewest decimals a regenerated answer shows a real number with


@dataclass(frozen=True)
class Block:
    lang: str
    text: str  # the block's content, without the fences
    start: int  # offsets of the content in the file
    end: int


@dataclass(frozen=True)
class Example:
    """A command and the answer the doc shows for it."""

    path: Path
    command: Block
    answer: Block

    @property
    def id(self) -> str:
        first = self.command.text.strip().splitlines()[0]
        return f"{self.path.name}:{first[:60]}"


def blocks(text: str) -> list[Block]:
    return [Block(m.group(1), m.group(2), m.start(2), m.end(2)) for m in FENCE.finditer(text)]


def examples(path: Path) -> list[Example]:
    """Every ```bash block directly followed (blank lines aside) by a ```json block."""
    text = path.read_text()
    found = blocks(text)
    pairs = []
    for command, answer in zip(found, found[1:]):
        between = text[command.end : answer.start]
        if command.lang == "bash" and answer.lang == "json" and re.fullmatch(r"```\s*```json[^\n]*\n", between):
            pairs.append(Example(path, command, answer))
    return pairs


def commands(block: Block) -> list[str]:
    """The commands of a ```bash block: lines joined after a trailing backslash or pipe and inside open quotes."""
    found, current = [], ""
    for line in block.text.splitlines():
        current = f"{current}\n{line}" if current else line
        if current.rstrip().endswith(("\\", "|")) or current.count("'") % 2:
            continue
        if current.strip():
            found.append(current.strip())
        current = ""
    return found


def strip_comment(command: str) -> tuple[str, str]:
    """(command, trailing `# comment`) of a one-line command; quotes are respected."""
    quote = None
    for i, char in enumerate(command):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or command[i - 1].isspace()):
            return command[:i].rstrip(), command[i + 1 :].strip()
    return command, ""


class Shown(float):
    """A number as a doc shows it: its value and its decimals."""

    decimals: int

    def __new__(cls, literal: str) -> Shown:
        value = super().__new__(cls, literal)
        mantissa = literal.lower().split("e")[0]
        value.decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
        return value


def parse(text: str) -> Any:
    """JSON with `…` allowed as a list's last item or an object's last member."""
    out, stack, in_string, escaped = [], [], False, False
    for char in text:
        if in_string:
            escaped = not escaped and char == "\\"
            in_string = escaped or char != '"'
        elif char == '"':
            in_string = True
        elif char in "[{":
            stack.append(char)
        elif char in "]}":
            stack.pop()
        elif char == ELLIPSIS:
            char = f'"{ELLIPSIS}": null' if stack and stack[-1] == "{" else f'"{ELLIPSIS}"'
        out.append(char)
    return json.loads("".join(out), parse_float=Shown)


def differences(shown: Any, real: Any, where: str = "") -> list[str]:
    """Where the real answer disagrees with the shown one (empty when it agrees)."""
    if isinstance(shown, dict):
        if not isinstance(real, dict):
            return [f"{where or 'answer'}: shown an object, got {real!r}"]
        keys = [k for k in shown if k != ELLIPSIS]
        problems = [f"{where}.{k}: shown, not in the answer" for k in keys if k not in real]
        if ELLIPSIS not in shown:
            problems += [f"{where}.{k}: in the answer, not shown" for k in real if k not in shown]
        for k in keys:
            if k in real:
                problems += differences(shown[k], real[k], f"{where}.{k}" if where else k)
        return problems
    if isinstance(shown, list):
        if not isinstance(real, list):
            return [f"{where}: shown a list, got {real!r}"]
        prefix = bool(shown) and shown[-1] == ELLIPSIS
        items = shown[:-1] if prefix else shown
        if len(real) < len(items) or (not prefix and len(real) != len(items)):
            return [f"{where}: shown {len(items)} items{' or more' if prefix else ''}, got {len(real)}"]
        return [p for i, item in enumerate(items) for p in differences(item, real[i], f"{where}[{i}]")]
    if isinstance(shown, bool) or shown is None or isinstance(shown, str):
        return [] if shown == real and type(shown) is type(real) else [f"{where}: shown {shown!r}, got {real!r}"]
    if isinstance(shown, (int, float)):
        if isinstance(real, bool) or not isinstance(real, (int, float)):
            return [f"{where}: shown {shown!r}, got {real!r}"]
        decimals = getattr(shown, "decimals", 0)
        agrees = abs(real - shown) <= min(10.0**-decimals, 1e-3) if decimals else real == shown
        return [] if agrees else [f"{where}: shown {shown!r}, got {real!r}"]
    return [f"{where}: cannot compare {shown!r}"]


def render(real: Any, shown: Any, indent: int | None) -> str:
    """The real answer in the shown answer's shape (keys, prefixes, decimals), on one line or indented."""
    return _render(real, shown, indent, 0)


def _render(real: Any, shown: Any, indent: int | None, depth: int) -> str:
    def joined(parts: list[str], open_: str, close: str) -> str:
        if indent is None or not parts or depth > EXPANDED_DEPTH:
            return open_ + ", ".join(parts) + close
        pad = " " * (indent * (depth + 1))
        return open_ + "\n" + ",\n".join(pad + p for p in parts) + "\n" + " " * (indent * depth) + close

    if isinstance(real, dict):
        partial = isinstance(shown, dict) and ELLIPSIS in shown
        keys = [k for k in shown if k != ELLIPSIS and k in real] if partial else list(real)
        sub = shown if isinstance(shown, dict) else {}
        parts = [f"{json.dumps(k)}: {_render(real[k], sub.get(k), indent, depth + 1)}" for k in keys]
        return joined(parts + ([ELLIPSIS] if partial else []), "{", "}")
    if isinstance(real, list):
        partial = isinstance(shown, list) and bool(shown) and shown[-1] == ELLIPSIS
        count = len(shown) - 1 if partial else len(real)
        sub = shown if isinstance(shown, list) else []
        parts = [_render(item, sub[i] if i < len(sub) else None, None, 0) for i, item in enumerate(real[:count])]
        flat = "[" + ", ".join(parts + ([ELLIPSIS] if partial else [])) + "]"
        return flat  # lists stay on one line: vectors, offsets, labels
    if isinstance(real, float):
        decimals = max(getattr(shown, "decimals", 0), DEFAULT_DECIMALS)
        return _number(round(real, decimals), decimals)
    return json.dumps(real)


def _number(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    return "0." + "0" * decimals if text == "-0." + "0" * decimals else text


def layout(answer: str) -> int | None:
    """None for a one-line answer, else its indent width."""
    lines = answer.strip().splitlines()
    if len(lines) < 2:
        return None
    return len(lines[1]) - len(lines[1].lstrip())

"""Strict substitution: declared ``{{name}}`` slots filled with plain text, nothing else.

A template's text is parsed once into literal pieces and slots. The only syntax is
``{{name}}`` (spaces inside the braces allowed); any other ``{{`` is refused when the
template is published, so an author never believes an expression, filter or index works.
Rendering joins the pieces with each value's text in one pass and never looks at the
result again: a value holding ``{{other}}``, ``{0.__class__}`` or ``{% if %}`` stays those
characters. There is no attribute or index access, no evaluation, no format-string or
Jinja semantics. Values are checked against their declaration first (type, allowed
values, length, no NUL, valid Unicode), and a missing, extra, mistyped or over-long
variable is a 422 naming ``prompt.variables.<name>``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from broker.errors import InvalidRequest
from schemas.chat import ChatMessage
from schemas.prompts import TemplateDraft, VariableSpec

SLOT = re.compile(r"\{\{[ \t]*([A-Za-z_][A-Za-z0-9_]{0,63})[ \t]*\}\}")
OPEN = "{{"


@dataclass(frozen=True)
class Slot:
    name: str


Piece = str | Slot


class TemplateSyntaxError(ValueError):
    """A ``{{`` that does not open a ``{{name}}`` slot."""


def parse(text: str) -> tuple[Piece, ...]:
    """Literal pieces and slots, in order; raises on any ``{{`` that is not a slot."""
    pieces: list[Piece] = []
    pos = 0
    while (start := text.find(OPEN, pos)) >= 0:
        match = SLOT.match(text, start)
        if match is None:
            snippet = text[start : start + 24]
            raise TemplateSyntaxError(
                f"{snippet!r} at character {start} is not a slot: the only syntax is {{{{name}}}} "
                "with a declared variable name"
            )
        if start > pos:
            pieces.append(text[pos:start])
        pieces.append(Slot(match.group(1)))
        pos = match.end()
    if pos < len(text):
        pieces.append(text[pos:])
    return tuple(pieces)


def slot_names(pieces: tuple[Piece, ...]) -> list[str]:
    return [piece.name for piece in pieces if isinstance(piece, Slot)]


def check_draft(draft: TemplateDraft) -> list[tuple[Piece, ...]]:
    """A template is publishable when every ``{{`` is a slot, every slot is declared and
    every declared variable is used. Returns each message's parsed pieces."""
    declared = {variable.name for variable in draft.variables}
    parsed, used = [], set()
    for index, message in enumerate(draft.messages):
        try:
            pieces = parse(message.content)
        except TemplateSyntaxError as exc:
            raise InvalidRequest(f"messages[{index}].content: {exc}", param=f"messages[{index}].content") from exc
        for name in slot_names(pieces):
            if name not in declared:
                raise InvalidRequest(
                    f"messages[{index}].content: slot {{{{{name}}}}} is not a declared variable",
                    param=f"messages[{index}].content",
                )
            used.add(name)
        parsed.append(pieces)
    for index, variable in enumerate(draft.variables):
        if variable.name not in used:
            raise InvalidRequest(
                f"variables[{index}]: {variable.name!r} is declared but no message uses it",
                param=f"variables[{index}].name",
            )
    return parsed


def value_text(spec: VariableSpec, value: Any) -> str:
    """The text a value renders as, or ValueError saying why it does not fit its declaration."""
    if spec.type in ("string", "enum"):
        if not isinstance(value, str):
            raise ValueError(f"must be a string, not {type_name(value)}")
        text = value
        if spec.allowed is not None and text not in spec.allowed:
            raise ValueError(f"must be one of {', '.join(repr(a) for a in spec.allowed[:20])}")
    elif spec.type == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be an integer, not {type_name(value)}")
        if abs(value) >= 10**18:
            raise ValueError("must be below 10**18 in magnitude")
        text = str(value)
    elif spec.type == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be a number, not {type_name(value)}")
        if isinstance(value, int):
            if abs(value) >= 10**18:
                raise ValueError("must be below 10**18 in magnitude")
            text = str(value)
        elif not math.isfinite(value):
            raise ValueError("must be a finite number")
        else:
            text = repr(value)
    else:  # boolean
        if not isinstance(value, bool):
            raise ValueError(f"must be a boolean, not {type_name(value)}")
        text = "true" if value else "false"
    if len(text) > spec.max_length:
        raise ValueError(f"is {len(text)} characters long, more than its max_length {spec.max_length}")
    if "\x00" in text:
        raise ValueError("contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("is not valid Unicode text (lone surrogate)") from exc
    return text


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return {str: "string", int: "integer", float: "number", list: "array", dict: "object"}.get(
        type(value), type(value).__name__
    )


def bind(specs: list[VariableSpec], variables: dict[str, Any], where: str = "prompt.variables") -> dict[str, str]:
    """Each declared variable's text; a 422 naming the first extra, missing or unfit one."""
    declared = {spec.name: spec for spec in specs}
    for name in sorted(variables, key=str):
        if name not in declared:
            shown = name if len(name) <= 64 else name[:64] + "..."
            raise InvalidRequest(f"{where}.{shown}: not a variable of this template", param=f"{where}.{shown}")
    texts = {}
    for spec in specs:
        param = f"{where}.{spec.name}"
        if spec.name not in variables:
            raise InvalidRequest(f"{param}: missing (declared {spec.type})", param=param)
        try:
            texts[spec.name] = value_text(spec, variables[spec.name])
        except ValueError as exc:
            raise InvalidRequest(f"{param}: {exc}", param=param) from exc
    return texts


def fill(pieces: tuple[Piece, ...], texts: dict[str, str]) -> str:
    """One pass: literal pieces as they are, each slot replaced by its value's text."""
    return "".join(piece if isinstance(piece, str) else texts[piece.name] for piece in pieces)


def render(draft: TemplateDraft, variables: dict[str, Any]) -> list[ChatMessage]:
    """The template's messages with the variables filled in strictly."""
    parsed = check_draft(draft)
    texts = bind(draft.variables, variables)
    return [
        ChatMessage(role=message.role, content=fill(pieces, texts))
        for message, pieces in zip(draft.messages, parsed, strict=True)
    ]

"""Strict substitution: declared slots only, values as plain text, everything else refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.errors import InvalidRequest
from broker.prompts.render import Slot, TemplateSyntaxError, bind, check_draft, parse, render
from schemas.prompts import TemplateDraft, VariableSpec


def draft(content: str, *variables: dict, system: str | None = None) -> TemplateDraft:
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": content}]
    return TemplateDraft.model_validate({"messages": messages, "variables": list(variables)})


GREETING = draft("Hello {{name}}, you are {{ age }}.", {"name": "name"}, {"name": "age", "type": "integer"})

ADVERSARIAL = [
    "{other_var}",
    "{{age}}",
    "{{ age }}",
    "{0.__class__}",
    "{0.__class__.__mro__[1].__subclasses__()}",
    "{name!r:>{width}}",
    "%(name)s %s",
    "$name ${name}",
    "{{",
    "}}",
    "{{ }}",
    "{{ 7*7 }}",
    "{{ config.items() }}",
    "{% for x in range(3) %}{{x}}{% endfor %}",
    "{# comment #}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "${{7*7}}",
    "nul\x00byte",
    "\x00",
    "line\nbreak\ttab\r",
    "emoji 🙂 and RTL \u202e text",
]


def test_slots_and_literals_parse_in_order() -> None:
    assert parse("a {{x}} b {{ y }}{{z}}") == ("a ", Slot("x"), " b ", Slot("y"), Slot("z"))
    assert parse("no slots {single} } {") == ("no slots {single} } {",)
    assert parse("") == ()


@pytest.mark.parametrize(
    "text",
    ["{{ x.y }}", "{{x[0]}}", "{{ x|upper }}", "{{ 7*7 }}", "{{ }}", "{{", "{{{x}}}", "{{x}", "{{ x() }}", "{{0}}"],
)
def test_anything_but_a_plain_name_after_double_brace_is_refused_in_a_template(text: str) -> None:
    with pytest.raises(TemplateSyntaxError):
        parse(text)


def test_jinja_blocks_and_format_fields_in_template_text_are_plain_text() -> None:
    text = "{% if x %}{x}{0.__class__}{% endif %}"
    assert parse(text) == (text,)
    rendered = render(draft(text + " {{v}}", {"name": "v"}), {"v": "1"})
    assert rendered[0].content == text + " 1"


def test_render_fills_declared_slots_with_the_values_text() -> None:
    messages = render(GREETING, {"name": "Ada", "age": 36})
    assert messages[0].role == "user"
    assert messages[0].content == "Hello Ada, you are 36."


@pytest.mark.parametrize("value", ADVERSARIAL)
def test_adversarial_values_render_literally_or_are_refused(value: str) -> None:
    try:
        messages = render(GREETING, {"name": value, "age": 1})
    except InvalidRequest as exc:
        assert "\x00" in value  # the only adversarial value refused is one carrying NUL
        assert exc.param == "prompt.variables.name"
        assert "NUL" in exc.message
        return
    assert messages[0].content == f"Hello {value}, you are 1."


def test_a_value_naming_another_slot_is_not_substituted_again() -> None:
    both = draft("{{a}}|{{b}}", {"name": "a"}, {"name": "b"})
    assert render(both, {"a": "{{b}}", "b": "{{a}}"})[0].content == "{{b}}|{{a}}"


def test_one_megabyte_string_is_refused_naming_the_variable() -> None:
    big = "x" * 1_000_000
    with pytest.raises(InvalidRequest) as caught:
        render(GREETING, {"name": big, "age": 1})
    assert caught.value.param == "prompt.variables.name"
    assert "max_length" in caught.value.message


def test_a_long_string_within_a_generous_max_length_renders_whole() -> None:
    roomy = draft("<{{doc}}>", {"name": "doc", "max_length": 100_000})
    text = "{{doc}}{0}" * 10_000
    assert render(roomy, {"doc": text})[0].content == f"<{text}>"


@pytest.mark.parametrize(
    ("variables", "param", "words"),
    [
        ({"age": 3}, "prompt.variables.name", "missing"),
        ({"name": "a", "age": 3, "extra": "x"}, "prompt.variables.extra", "not a variable"),
        ({"name": "a", "age": 3, "__class__": "x"}, "prompt.variables.__class__", "not a variable"),
        ({"name": "a", "age": "3"}, "prompt.variables.age", "integer"),
        ({"name": "a", "age": 3.0}, "prompt.variables.age", "integer"),
        ({"name": "a", "age": True}, "prompt.variables.age", "integer"),
        ({"name": 5, "age": 3}, "prompt.variables.name", "string"),
        ({"name": None, "age": 3}, "prompt.variables.name", "null"),
        ({"name": ["a"], "age": 3}, "prompt.variables.name", "array"),
        ({"name": {"__class__": 1}, "age": 3}, "prompt.variables.name", "object"),
        ({"name": "a", "age": 10**30}, "prompt.variables.age", "10**18"),
        ({"name": "\ud800", "age": 3}, "prompt.variables.name", "Unicode"),
    ],
)
def test_missing_extra_and_mistyped_variables_are_422s_naming_them(variables: dict, param: str, words: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        render(GREETING, variables)
    assert caught.value.status == 422
    assert caught.value.param == param
    assert words in caught.value.message


@pytest.mark.parametrize(
    ("spec", "value", "text"),
    [
        ({"type": "string"}, "x", "x"),
        ({"type": "integer"}, -42, "-42"),
        ({"type": "number"}, 2.5, "2.5"),
        ({"type": "number"}, 3, "3"),
        ({"type": "number"}, 1e20, "1e+20"),
        ({"type": "boolean"}, True, "true"),
        ({"type": "boolean"}, False, "false"),
        ({"type": "enum", "allowed": ["en", "fr"]}, "fr", "fr"),
    ],
)
def test_each_type_renders_as_plain_text(spec: dict, value: object, text: str) -> None:
    assert bind([VariableSpec(name="v", **spec)], {"v": value}) == {"v": text}


@pytest.mark.parametrize(
    ("spec", "value"),
    [
        ({"type": "enum", "allowed": ["en", "fr"]}, "de"),
        ({"type": "enum", "allowed": ["en"]}, "EN"),
        ({"type": "number"}, float("nan")),
        ({"type": "number"}, float("inf")),
        ({"type": "number"}, "1"),
        ({"type": "boolean"}, 1),
        ({"type": "boolean"}, "true"),
        ({"type": "string", "max_length": 3}, "abcd"),
        ({"type": "integer", "max_length": 2}, 123),
    ],
)
def test_values_outside_their_declaration_are_refused(spec: dict, value: object) -> None:
    with pytest.raises(InvalidRequest) as caught:
        bind([VariableSpec(name="v", **spec)], {"v": value})
    assert caught.value.param == "prompt.variables.v"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (draft("{{who}}"), "messages[0].content"),
        (draft("{{ who.name }}", {"name": "who"}), "messages[0].content"),
        (draft("hi", {"name": "unused"}), "variables[0].name"),
        (draft("{{a}} {{b}}", {"name": "a"}, {"name": "b"}, system="{{ c }}"), "messages[0].content"),
    ],
)
def test_publishing_refuses_undeclared_slots_non_slots_and_unused_variables(body: TemplateDraft, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_draft(body)
    assert caught.value.param == param


def test_enum_needs_allowed_values_and_only_enums_have_them() -> None:
    with pytest.raises(ValueError, match="allowed"):
        VariableSpec(name="v", type="enum")
    with pytest.raises(ValueError, match="allowed"):
        VariableSpec(name="v", type="string", allowed=["a"])


@settings(max_examples=300, deadline=None)
@given(
    before=st.text(max_size=40).filter(lambda s: "{{" not in s and not s.endswith("{")),
    value=st.text(max_size=200),
    after=st.text(max_size=40).filter(lambda s: "{{" not in s and not s.startswith("{")),
)
def test_property_any_text_value_renders_verbatim_between_literals(before: str, value: str, after: str) -> None:
    template = draft(f"{before}{{{{v}}}}{after}", {"name": "v", "max_length": 1000})
    try:
        texts = bind(template.variables, {"v": value})
    except InvalidRequest as exc:
        assert "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value), exc.message
        return
    assert texts == {"v": value}
    assert render(template, {"v": value})[0].content == before + value + after


@settings(max_examples=200, deadline=None)
@given(values=st.dictionaries(st.sampled_from(["a", "b", "c"]), st.text(max_size=30), min_size=3))
def test_property_rendering_is_one_pass_whatever_the_values_contain(values: dict[str, str]) -> None:
    template = draft("[{{a}}][{{b}}][{{c}}]", *({"name": n} for n in "abc"))
    values = {k: v.replace("\x00", "") for k, v in values.items()}
    values = {k: "".join(c for c in v if not 0xD800 <= ord(c) <= 0xDFFF) for k, v in values.items()}
    assert render(template, values)[0].content == f"[{values['a']}][{values['b']}][{values['c']}]"

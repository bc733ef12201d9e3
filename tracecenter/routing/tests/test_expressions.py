"""Skill expressions: what they match, and how a mistake is refused (with the character where it is)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracecenter.routing.expressions import MAX_DEPTH, ExpressionError, parse

MARIA = {
    "role": "contact_tracer",
    "languages": {"en": 5, "es": 4},
    "jurisdiction": "/ma/boston/",
    "teams": ["north", "surge"],
    "certifications": ["interpreter"],
}
TASK = {"language": "es", "jurisdiction": "/ma/boston/dorchester/", "team": "north", "type": "case_interview"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('role == "contact_tracer"', True),
        ("role == 'case_investigator'", False),
        ("languages.es >= 3", True),
        ("languages.es >= 5", False),
        ("languages.fr >= 1", False),  # no rating is no match
        ("languages.fr != 1", True),
        ("languages[task.language] >= 4", True),
        ('teams has task.team and certifications has "interpreter"', True),
        ('teams has "south" or languages has "es"', True),
        ("task.jurisdiction within jurisdiction", True),
        ('jurisdiction within "/ma/"', True),
        ('jurisdiction within "/ma/bos"', False),  # a path prefix is a whole jurisdiction, not letters
        ('task.type in ["case_interview", "callback"]', True),
        ('not (role == "supervisor") and (languages.en > 4.5)', True),
        ("NOT role == 'contact_tracer'", False),  # keywords in any case
        ("languages.es > 'x'", False),  # a number and a text do not compare
        ('missing.deeper == "x"', False),
        ("true == true", True),
    ],
)
def test_what_an_expression_matches(text, expected):
    assert parse(text).matches(MARIA, TASK) is expected


def test_an_expression_lists_the_task_attributes_it_reads():
    expression = parse("languages[task.language] >= 3 and task.jurisdiction within jurisdiction")
    assert expression.task_paths == {("language",), ("jurisdiction",)}
    assert expression.task_key(TASK) == ("/ma/boston/dorchester/", "es")


@pytest.mark.parametrize(
    ("text", "position", "says"),
    [
        ("", 1, "empty"),
        ("role ==", 8, "expected a name"),
        ("role = 'x'", 6, "'=' is not part"),
        ("role == 'x", 9, "never closed"),
        ("role == 'x' and", 16, "expected a name"),
        ("(role == 'x'", 13, "expected ')'"),
        ("role 'x'", 6, "expected a comparison"),
        ("role == 'x' 'y'", 13, "expected 'and', 'or'"),
        ("task == 'x'", 1, "task.language"),
        ("import os", 8, "expected a comparison"),
        ("__import__('os').system('x') == 1", 11, "expected a comparison"),
        ("role == 'a\x00'", 11, "control character"),
    ],
)
def test_a_mistake_is_refused_with_where_it_is(text, position, says):
    with pytest.raises(ExpressionError) as caught:
        parse(text)
    assert caught.value.position + 1 == position
    assert says in str(caught.value)
    assert str(caught.value).startswith(f"At character {position}:")


def test_oversized_and_deeply_nested_expressions_are_refused():
    with pytest.raises(ExpressionError, match="at most 1000 characters"):
        parse("role == 'x' or " * 80 + "role == 'y'")
    with pytest.raises(ExpressionError, match=f"nested more than {MAX_DEPTH} deep"):
        parse("(" * (MAX_DEPTH + 1) + "role == 'x'" + ")" * (MAX_DEPTH + 1))
    with pytest.raises(ExpressionError, match="nested"):
        parse("not " * 30 + "role == 'x'")


@given(st.text(max_size=200))
def test_any_text_either_parses_or_is_refused_clearly(text):
    try:
        expression = parse(text)
    except ExpressionError as exc:
        assert str(exc).startswith("At character ")
    else:
        assert isinstance(expression.matches(MARIA, TASK), bool)
        assert isinstance(expression.matches({}, {}), bool)  # any agent, even one with no attributes

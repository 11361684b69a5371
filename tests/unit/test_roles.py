"""Who the user is, read from phrasing (the borrower's relation is inverted)."""

import pytest

from advisor.roles import infer_role


@pytest.mark.parametrize(
    "text, relations, asked, expected",
    [
        ("我是他妈妈", ["parent"], False, "parent"),
        ("我儿子在借呗借了钱，催收一天给我打十几个电话", ["child"], False, "parent"),
        ("我女儿欠了花呗", ["child"], False, "parent"),
        ("我老公欠了网贷", ["spouse"], False, "spouse"),
        ("是我自己借的", [], False, "borrower"),
        ("我是紧急联系人", ["emergency_contact"], False, "emergency_contact"),
        ("我给他做了担保", ["guarantor"], False, "guarantor"),
        ("我不是借款人，我是他同事", ["borrower", "colleague"], True, "colleague"),
        ("妈妈", ["parent"], True, "parent"),
        ("本人", ["borrower"], True, "borrower"),
        # Saying who is being called does not say who the user is.
        ("催收打给我妈", ["parent"], False, None),
        ("借呗", [], True, None),
    ],
)
def test_infer_role(text, relations, asked, expected):
    assert infer_role(text, relations, answering_role_question=asked) == expected

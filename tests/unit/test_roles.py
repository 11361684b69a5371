"""Who the user is, read from phrasing (the borrower's relation is inverted)."""

import pytest

import knowledge
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


def test_the_role_slot_offers_every_relation_in_the_knowledge_file():
    from pathlib import Path

    import yaml

    domain = yaml.safe_load((Path(__file__).resolve().parents[2] / "domain" / "triage.yml").read_text(encoding="utf-8"))
    values = domain["slots"]["user_role"]["values"]
    assert set(values) == set(knowledge.load().relations) | {"unknown"}


@pytest.mark.parametrize(
    "text, role",
    [
        ("我和前夫离婚三年了，他现在欠的钱找我要", "ex_spouse"),
        ("我老公欠的，不过我们去年已经离婚了", "ex_spouse"),
        ("我男朋友借的网贷，我们还没领证", "partner"),
        ("我老公借的，我们感情挺好的", "spouse"),
    ],
)
def test_divorced_and_unmarried_partners_are_told_apart_from_spouses(text, role):
    kb = knowledge.load()
    relations = [kb.resolve_relation(w) for w in ("前夫", "老公", "男朋友") if w in text]
    assert infer_role(text, relations) == role


@pytest.mark.parametrize(
    "text, relations, role",
    [
        ("老公瞒着我在网贷平台借了钱", ["spouse"], None),  # not the borrower: her husband borrowed behind her back
        ("同学把我填成了紧急联系人", ["friend", "emergency_contact"], "emergency_contact"),
        ("催收非说我妈是担保人 她根本没签过", ["parent", "guarantor"], None),
    ],
)
def test_who_borrowed_and_who_was_named_are_read_from_the_phrasing(text, relations, role):
    assert infer_role(text, relations) == role

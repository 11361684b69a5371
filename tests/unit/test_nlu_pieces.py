"""Text normalisation, jieba segmentation and the spaCy rule pipeline."""

import pytest
import spacy

from nlu import segmentation, spacy_pipeline
from nlu.text import normalize


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("我兒子欠了借唄，催收天天打電話", "我儿子欠了借呗,催收天天打电话"),
        ("１２３７８", "12378"),
        ("ＡＢＣ  hello\t\n世界", "ABC hello 世界"),
        ("  ", ""),
        ("😭😭", "😭😭"),
    ],
)
def test_normalize(raw, expected):
    assert normalize(raw) == expected


@pytest.mark.parametrize("bad", [None, 5, b"bytes", ["list"]])
def test_normalize_never_raises(bad):
    assert normalize(bad) == ""


def test_segmentation_keeps_domain_words_and_numbers_whole():
    words = segmentation.cut("催收爆通讯录，打给借呗紧急联系人13812345678，还说去12378没用")
    for word in ("爆通讯录", "借呗", "紧急联系人", "13812345678", "12378"):
        assert word in words
    assert "".join(words) == "催收爆通讯录，打给借呗紧急联系人13812345678，还说去12378没用"


@pytest.fixture(scope="module")
def nlp(tmp_path_factory):
    path = spacy_pipeline.build(tmp_path_factory.mktemp("spacy") / "model")
    return spacy.load(path)


def ents(nlp, text):
    return {(e.label_, e.ent_id_) for e in nlp(normalize(text)).ents}


def test_saved_pipeline_finds_lender_relation_behaviour(nlp):
    found = ents(nlp, "我兒子欠了借唄，催收半夜打電話給我，還爆通讯录")
    assert ("lender", "ant_consumer_finance") in found
    assert ("relation", "child") in found
    assert ("behaviour", "night_calls") in found
    assert ("behaviour", "third_party_contact") in found


@pytest.mark.parametrize(
    "text, kind",
    [("他用13812345678打的", "mobile"), ("+8613912345678", "mobile"), ("座机010-12345678", "landline")],
)
def test_phone_numbers(nlp, text, kind):
    assert ("phone", kind) in ents(nlp, text)


def test_no_entities_in_unrelated_text(nlp):
    assert ents(nlp, "今天天气怎么样") == set()


@pytest.mark.parametrize(
    "text, behaviour",
    [
        ("催收天天打到我们公司，还在群里发他的照片", "public_shaming"),
        ("催收天天打到我们公司，还在群里发他的照片", "third_party_contact"),
        ("说不还就让我坐牢", "false_consequences"),
        ("说再不还钱就去家里闹", "visits"),
    ],
)
def test_behaviours_people_describe_in_their_own_words(nlp, text, behaviour):
    assert ("behaviour", behaviour) in ents(nlp, text)

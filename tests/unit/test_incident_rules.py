"""Rule checks on the incident log, and the short timeline shown to the user."""

from datetime import datetime, timedelta

import pytest

import knowledge
from incidents.rules import check, timeline
from incidents.store import IncidentStore

DAY = datetime(2026, 11, 20)
_ids = iter(range(1, 10_000))


def inc(hour=10, minute=0, day=DAY, **kw):
    kw.setdefault("caller_number", "13812345678")
    return {"id": next(_ids), "occurred_at": day.replace(hour=hour, minute=minute), **kw}


def keys(breaches):
    return [b.key for b in breaches]


def only(breaches, key):
    [found] = [b for b in breaches if b.key == key]
    return found


@pytest.mark.parametrize(
    "hour, minute, night",
    [
        (22, 40, True),
        (22, 0, True),
        (21, 59, False),
        (0, 30, True),
        (7, 59, True),
        (8, 0, False),
        (12, 0, False),
    ],
)
def test_night_window_from_the_knowledge_file(kb, hour, minute, night):
    assert ("night_contact" in keys(check([inc(hour, minute)], kb))) is night


def test_night_breach_names_the_rule_and_the_incidents(kb):
    night, day = inc(23, 5), inc(15)
    breach = only(check([day, night], kb), "night_contact")
    assert breach.rule == "银行业协会2026年催收指引"
    assert breach.incident_ids == (night["id"],)
    assert "civil_code_1033" in breach.laws


def test_a_guessed_hour_is_never_a_night_call(kb):
    """A day ("前天") or an evening ("昨晚", 20:00) is not flagged; "昨天夜里" is."""
    assert check([inc(3, time_precision="day")], kb) == []
    assert check([inc(20, time_precision="part_of_day")], kb) == []
    assert keys(check([inc(23, time_precision="part_of_day")], kb)) == ["night_contact"]


def test_seven_calls_from_one_number_in_a_day_are_flagged(kb):
    calls = [inc(9 + n) for n in range(7)]
    breach = only(check(calls, kb), "too_many_attempts")
    assert breach.count == 7
    assert breach.number == "13812345678"
    assert breach.day == DAY.date()
    assert set(breach.incident_ids) == {c["id"] for c in calls}
    assert breach.summary() == "一天内联系次数过多：11月20日 138****5678 共 7 次"
    assert "不宜超过 6 次" in breach.says


def test_six_calls_are_not_flagged(kb):
    assert check([inc(9 + n) for n in range(6)], kb) == []


def test_attempts_in_one_entry_count(kb):
    assert "too_many_attempts" in keys(check([inc(9, attempts=4), inc(11, attempts=3)], kb))
    assert "too_many_attempts" not in keys(check([inc(9, attempts=6)], kb))


def test_calls_on_two_days_are_counted_per_day(kb):
    calls = [inc(9 + n) for n in range(4)] + [inc(9 + n, day=DAY + timedelta(days=1)) for n in range(4)]
    assert "too_many_attempts" not in keys(check(calls, kb))


def test_spoofed_numbers_to_one_person_are_counted_per_person(kb):
    """Collectors change numbers; the guideline counts attempts to the same contact."""
    calls = [inc(9 + n, caller_number=f"1391111000{n}", contacted_person="母亲") for n in range(7)]
    breach = only(check(calls, kb), "too_many_attempts")
    assert breach.number is None and breach.people == ("母亲",)
    assert breach.summary() == "一天内联系次数过多：11月20日 打给母亲 共 7 次"


def test_one_group_is_reported_once(kb):
    calls = [inc(9 + n, contacted_person="parent") for n in range(7)]
    assert keys(check(calls, kb)).count("too_many_attempts") == 1


def test_a_spouse_is_not_flagged_as_unrelated_to_the_debt(kb):
    """§11.9: a spouse may be a debt-related person."""
    assert "third_party_contact" not in keys(check([inc(contacted_person="老公")], kb))


def test_one_number_calling_seven_people_once_is_not_a_frequency_breach(kb):
    """§11.8: the limit is per person called; this is a third-party problem."""
    people = ["母亲", "父亲", "同事", "老公", "姐姐", "舅舅", "朋友"]
    calls = [inc(9 + n, contacted_person=p) for n, p in enumerate(people)]
    found = keys(check(calls, kb))
    assert "too_many_attempts" not in found and "third_party_contact" in found


def test_partial_numbers_are_not_grouped(kb):
    calls = [inc(9 + n, caller_number="151开头") for n in range(7)]
    assert check(calls, kb) == []


@pytest.mark.parametrize("person", ["母亲", "我妈", "parent", "同事", "我们领导", "紧急联系人"])
def test_contact_with_third_parties_is_flagged(kb, person):
    breach = only(check([inc(contacted_person=person)], kb), "third_party_contact")
    assert breach.rule == "银行业协会2026年催收指引"
    assert breach.laws == ("civil_code_1033",)


@pytest.mark.parametrize("person", ["borrower", "借款人本人", "担保人", "guarantor", "班主任", "", None])
def test_borrower_guarantor_and_unknown_people_are_not_third_parties(kb, person):
    assert "third_party_contact" not in keys(check([inc(contacted_person=person)], kb))


def test_me_means_the_author(kb):
    call = inc(contacted_person="我")
    assert "third_party_contact" in keys(check([call], kb, author_relation="parent"))
    assert "third_party_contact" not in keys(check([call], kb, author_relation="borrower"))
    assert only(check([call], kb, author_relation="parent"), "third_party_contact").people == ("本人",)


@pytest.mark.parametrize(
    "behaviour, law",
    [
        ("threats", "psapl_50"),
        ("insults", "psapl_50"),
        ("impersonation", "criminal_279"),
        ("public_shaming", None),
    ],
)
def test_behaviours_are_flagged_with_their_rule(kb, behaviour, law):
    breach = only(check([inc(behaviours=[behaviour]), inc(11)], kb), behaviour)
    assert breach.rule == "银行业协会2026年催收指引"
    assert breach.count == 1
    if law:
        assert law in breach.laws
    for key in breach.laws:
        assert key in kb.laws


def test_most_serious_first_and_unknown_behaviours_ignored(kb):
    calls = [
        inc(23, behaviours=["insults", "made_up"], contacted_person="同事"),
        inc(9, behaviours=["threats"]),
    ]
    assert keys(check(calls, kb)) == ["threats", "night_contact", "third_party_contact", "insults"]


def test_nothing_to_report(kb):
    assert check([], kb) == []
    assert check([inc(10, contacted_person="本人")], kb) == []
    assert check([{"id": 1, "occurred_at": None}], kb) == []


# -- timeline --------------------------------------------------------------------


def test_timeline_line_as_in_the_spec(kb):
    line = inc(22, 40, contacted_person="母亲", behaviours=["insults"], time_precision="minute")
    assert timeline([line], kb) == ["11月20日 22:40 · 138****5678 打给母亲 · 深夜来电、辱骂"]


def test_timeline_is_ordered_and_as_exact_as_the_user(kb):
    lines = timeline(
        [
            inc(20, day=DAY + timedelta(days=1), time_precision="part_of_day", contacted_person="parent"),
            inc(6, 50, caller_number=None, contacted_person="我"),
            inc(
                12,
                day=DAY + timedelta(days=2),
                time_precision="day",
                caller_number="010 1234 5678",
                attempts=4,
            ),
            inc(12, day=DAY + timedelta(days=3), time_precision="day", behaviours=["night_calls"]),
            inc(16, time_precision="hour", caller_number="151开头", behaviours=["threats", "night_calls"]),
        ],
        kb,
        author_relation="parent",
    )
    assert lines == [
        "11月20日 06:50 · 打给我 · 清晨来电",
        "11月20日 16点 · 151开头 来电 · 威胁恐吓",  # the time says it was not at night
        "11月21日 晚上 · 138****5678 打给我",
        "11月22日 · 010-****5678 来电 4 次",
        "11月23日 · 138****5678 来电 · 深夜或清晨来电",  # no time: the user's word stands
    ]


def test_timeline_unmasked_for_letters_and_with_years(kb):
    lines = timeline(
        [inc(10, day=datetime(2025, 12, 30)), inc(10, day=datetime(2026, 1, 2), contacted_person="同事")],
        kb,
        mask=False,
        self_word="本人",
    )
    assert lines == ["2025年12月30日 10:00 · 13812345678 来电", "1月2日 10:00 · 13812345678 打给同事"]


def test_timeline_lines_stay_short(kb):
    long = inc(23, contacted_person="我那个在外地上班的表哥的同事", behaviours=list(kb.behaviours))
    [line] = timeline([long], kb)
    assert len(line) <= 60
    assert line.endswith("等")


def test_works_with_stored_incidents(kb):
    store = IncidentStore("sqlite://")
    for n in range(7):
        store.add(
            "u1",
            occurred_at=DAY.replace(hour=22, minute=n),
            caller_number="138 1234 5678",
            contacted_person="妈妈",
        )
    incidents = store.list("u1")
    assert keys(check(incidents, kb)) == ["night_contact", "too_many_attempts", "third_party_contact"]
    assert timeline(incidents, kb)[0] == "11月20日 22:00 · 138****5678 打给妈妈 · 深夜来电"


def test_incident_rules_in_the_knowledge_file_resolve(kb):
    for key, rule in kb.data["incident_rules"].items():
        assert rule["rule"] in kb.data["rules"], key
        for other in rule.get("also", []):
            assert other in kb.data["rules"], key
        for law in rule.get("laws", []):
            assert law in kb.laws, f"{key} cites unknown law {law}"
        assert rule["confidence"] in knowledge.CONFIDENCE_LEVELS
        assert set(knowledge.ARTICLE_LIKE.findall(rule["says"])) <= kb.cited_articles()
    for relation in kb.data["incident_rules"]["third_party_contact"]["exempt"]:
        assert relation in kb.relations

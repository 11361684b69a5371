"""Faults against the real scaled profile (scripts/run.sh, ANXIN_PROFILE=scaled): two Rasa
processes behind nginx, PostgreSQL tracker store, Redis lock store, one action server.
The tests run in this order and share the processes (tests/faults/test_nginx_front.py,
which runs before them, too)."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import knowledge
from advisor import replies
from tests.faults.conftest import APOLOGY, WECHAT_TOKEN, User

# Short answers set the conversation's slots: a lender ("借呗" → its company and where to
# complain) and who the user is ("我是他老婆" → what a spouse owes). Later questions are
# answered from those stored slots, so an answer proves whose conversation it came from.
COMPLAIN = "那我可以去哪里投诉"
LIABILITY = "家里人要替他还钱吗"
ROLE_WORDS = {"parent": "我是他妈妈", "spouse": "我是他老婆", "borrower": "我是借款人本人"}


def company(lender: str) -> str:
    """A phrase only this lender's answer holds: its introduction when it has
    one (brands whose money may come from several lenders), else its name."""
    raw = knowledge.load().data["lenders"][lender]
    if raw.get("intro"):
        return raw["intro"][:12]
    name = raw["legal_name"]
    for stop in ("或", "（"):
        name = name.split(stop)[0]
    return name


def role_mark(role: str) -> str:
    return replies.family_liability(role).bubbles[0][:24]


def test_action_server_down_gets_a_polite_reply_and_the_conversation_recovers(cluster):
    user = User(cluster.nginx)
    user.say("你好")
    assert company("ant_consumer_finance") in user.say("借呗")
    assert role_mark("parent") in user.say(ROLE_WORDS["parent"])

    cluster.actions.stop()
    try:
        answer = user.post(COMPLAIN)
        assert answer.status_code == 200  # not a server error
        text = "\n".join(r.get("text") or "" for r in answer.json())
        assert APOLOGY in text, text
        assert company("ant_consumer_finance") not in text
    finally:
        cluster.actions.start()

    # Back: the same question gets the real answer, with what was said before the outage.
    text = user.say(COMPLAIN)
    assert company("ant_consumer_finance") in text and APOLOGY not in text
    assert role_mark("parent") in user.say(LIABILITY)


def test_a_restarted_rasa_process_continues_the_conversation_and_slots(cluster):
    first = cluster.rasa(0)
    user = User(cluster.rasa_url(0))  # straight to the process that restarts
    assert company("webank") in user.say("微粒贷")
    assert role_mark("spouse") in user.say(ROLE_WORDS["spouse"])
    pid_before = first.pid

    first.stop()
    # Meanwhile the other process answers everyone through nginx.
    other = User(cluster.nginx)
    assert other.say("你好")
    first.start()
    assert first.pid != pid_before

    assert company("webank") in user.say(COMPLAIN)  # the lender slot survived the restart
    assert role_mark("spouse") in user.say(LIABILITY)  # and so did the role
    assert [m["text"] for m in cluster.user_messages(user.sender)][-2:] == [COMPLAIN, LIABILITY]


def test_a_retried_message_is_answered_once(cluster):
    """What nginx does when a process dies after saving the answer but before sending it:
    the same request, same message id, to the other process, not marked as a retry."""
    user = User(cluster.rasa_url(0))
    user.say("你好")
    message_id = f"fixed-{uuid.uuid4().hex}"
    first = user.say("京东白条", headers={"X-Anxin-Message-Id": message_id})
    again = user.say(
        "京东白条",
        base=cluster.rasa_url(1),  # the retry lands on the other process
        headers={"X-Anxin-Message-Id": message_id},
    )
    flagged = user.say(  # a client that says it is retrying gets the same
        "京东白条", base=cluster.rasa_url(1), headers={"X-Anxin-Message-Id": message_id, "X-Anxin-Retry": "1"}
    )
    assert again == first == flagged and company("jd_microloan") in again
    stored = cluster.user_messages(user.sender)
    assert [m.get("message_id") for m in stored].count(message_id) == 1


def test_a_wechat_message_delivered_to_both_processes_is_processed_once(cluster):
    """WeChat's retry of a message may reach the other process: de-duplication is in Redis."""
    import random

    from scripts.wechat_sim import WeChatSim

    openid = f"o-faults-{uuid.uuid4().hex[:16]}"
    sims = [
        WeChatSim(f"{cluster.rasa_url(i)}/webhooks/wechat/webhook", WECHAT_TOKEN, openid=openid, attempts=1, timeout=20)
        for i in (0, 1)
    ]
    msg_id = random.randint(10**15, 9 * 10**15)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda sim: sim.text("微粒贷", msg_id=msg_id), sims))
    assert all(r.status == 200 for r in results), [(r.status, r.body[:100]) for r in results]
    contents = [r.content for r in results if r.content]
    assert contents and all(company("webank") in c for c in contents)
    assert [m["text"] for m in cluster.user_messages(openid)] == ["微粒贷"]  # processed once


PERSONAS = [
    ("ant_consumer_finance", "借呗", "parent"),
    ("webank", "微粒贷", "spouse"),
    ("mybank", "网商贷", "borrower"),
    ("jd_microloan", "京东白条", "parent"),
    ("meituan_microloan", "美团月付", "spouse"),
    ("duxiaoman_microloan", "有钱花", "borrower"),
    ("zhaolian", "好期贷", "parent"),
    ("mashang", "安逸花", "spouse"),
]


def test_killing_one_rasa_process_under_load_loses_and_repeats_nothing(cluster):
    victim = cluster.rasa(1)
    everyone = {company(p[0]) for p in PERSONAS} | {role_mark(p[2]) for p in PERSONAS}
    done = 0
    done_lock = threading.Lock()
    kill_at = 12  # messages answered before the kill
    killed = threading.Event()

    def converse(persona):
        lender, word, role = persona
        user = User(cluster.nginx)
        turns = ["你好", word, ROLE_WORDS[role], COMPLAIN, LIABILITY, "不还钱会坐牢吗", "谢谢"]
        problems, answers = [], []
        for text in turns:
            response = user.post(text)
            if response.status_code != 200 or not response.json():
                problems.append(f"{text!r}: HTTP {response.status_code} {response.text[:100]}")
                continue
            answer = "\n".join(r.get("text") or "" for r in response.json())
            answers.append(answer)
            foreign = everyone - {company(lender), role_mark(role)}
            problems += [f"{text!r}: someone else's {mark!r}" for mark in foreign if mark in answer]
            nonlocal done
            with done_lock:
                done += 1
        if len(answers) < 5 or company(lender) not in answers[3] or role_mark(role) not in answers[4]:
            problems.append(f"{lender}/{role}: unexpected answers {answers[3:5]}")
        return user.sender, turns, problems

    def killer():
        while True:
            with done_lock:
                if done >= kill_at:
                    break
            time.sleep(0.05)
        victim.kill()
        killed.set()

    started = time.monotonic()
    with ThreadPoolExecutor(len(PERSONAS) + 1) as pool:
        pool.submit(killer)
        results = list(pool.map(converse, PERSONAS))
    assert killed.is_set()
    # The conversations whose message was in flight on the dead process waited for its
    # lock to expire (TICKET_LOCK_LIFETIME, 5 s here) and no longer.
    assert time.monotonic() - started < 120

    for sender, turns, problems in results:
        assert problems == [], problems
        stored = cluster.user_messages(sender)
        assert [m["text"] for m in stored] == turns, "a message was lost or processed twice"
        ids = [m.get("message_id") for m in stored]
        assert len(set(ids)) == len(ids)
    nginx_log = cluster.log("nginx.log")
    assert "upstream server temporarily disabled" in nginx_log  # the dead process is skipped
    assert "while reading response header from upstream" in nginx_log, (
        "no request was in flight on the killed process; the retry path was not used"
    )
    assert "client: " not in nginx_log and "?" not in nginx_log.replace("?…", "")  # cut by run.sh

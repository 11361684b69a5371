"""Signed download links: only for their owner and file, only before they expire."""

import pytest

from evidence import links
from evidence.links import LinkRefused, make_token, verify
from evidence.store import owner_key

ALICE, BOB = owner_key("alice"), owner_key("bob")
NOW = 1_800_000_000.0


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv(links.ENV_SECRET, "s" * 32)


def reason(token, owner, subject, now=NOW):
    with pytest.raises(LinkRefused) as caught:
        verify(token, owner, subject, now=now)
    return caught.value.reason


def test_a_link_works_for_its_owner_and_file_until_it_expires():
    token = make_token(ALICE, "file123abc", ttl=600, now=NOW)
    grant = verify(token, ALICE, "file123abc", now=NOW + 599)
    assert grant.owner == ALICE and grant.subject == "file123abc" and grant.expires == NOW + 600
    assert reason(token, ALICE, "file123abc", now=NOW + 600) == "expired"


def test_another_users_link_a_changed_id_or_a_forged_token_are_refused():
    token = make_token(ALICE, "file123abc", now=NOW)
    assert reason(token, BOB, "file123abc") == "bad"
    assert reason(token, ALICE, "file123abd") == "bad"
    expires, signature = token.split(".")
    assert reason(f"{int(expires) + 3600}.{signature}", ALICE, "file123abc") == "bad"  # a longer life
    assert reason(f"{expires}.{signature[:-2]}AA", ALICE, "file123abc") == "bad"
    for junk in ("", "abc", "1.2.3", None, "x" * 500, f"{expires}.é"):
        assert reason(junk, ALICE, "file123abc") == "bad"


def test_a_link_made_with_another_secret_is_refused(monkeypatch):
    token = make_token(ALICE, "pack", now=NOW)
    monkeypatch.setenv(links.ENV_SECRET, "t" * 32)
    assert reason(token, ALICE, "pack") == "bad"


def test_a_short_secret_is_an_error_and_none_means_this_process_only(monkeypatch):
    monkeypatch.setenv(links.ENV_SECRET, "short")
    with pytest.raises(RuntimeError):
        make_token(ALICE, "pack")
    monkeypatch.delenv(links.ENV_SECRET)
    token = make_token(ALICE, "pack", now=NOW)
    assert verify(token, ALICE, "pack", now=NOW).subject == "pack"


def test_lifetimes_are_capped_and_the_path_carries_no_user_id():
    token = make_token(ALICE, "pack", ttl=10**9, now=NOW)
    assert int(token.split(".")[0]) == NOW + links.MAX_TTL
    path = links.link_path(ALICE, "file123abc", now=NOW)
    assert path.startswith(f"/evidence/{ALICE}/file123abc?t=") and "alice" not in path

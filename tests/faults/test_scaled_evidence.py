"""Evidence files (issue #15) in the scaled profile: two Rasa processes behind nginx,
PostgreSQL, Redis, one action server (the ``cluster`` of tests/faults/conftest.py).

A file uploaded through nginx lands on one Rasa process; everything after it (the
confirmation, the evidence pack, a single file's link, "删除我的数据") must work
whichever process a request reaches, as on several machines: so the downloads go
straight to each backend's port as well as through nginx, and the bytes must be in
PostgreSQL, not on one process's disk. Signed links that were changed, made for
another user or expired are refused by both processes. Also: the first uploads on a
fresh database reaching both processes at once (each makes the tables), and a
screenshot over 1 MiB (Sanic's and nginx's usual cap) through nginx.

Runs after tests/faults/test_nginx_front.py and before tests/faults/test_scaled_faults.py
(which kills a Rasa process), on the same processes, while all of them are alive.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import threading
import time
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from channels.ratelimit import sender_key
from evidence import links, samples
from evidence.samples import Call
from evidence.store import owner_key
from evidence.texts import text as evidence_text
from tests.faults.conftest import RASA_PORTS, ROOT, User

UPLOAD = "/webhooks/evidence/upload"
UPLOAD_TIMEOUT = 180  # seconds: the first screenshot loads the OCR engine, on a busy machine
# A made-up morning and evening of calls (numbers of our own, not the samples' defaults).
CALLS = [
    Call("186 0000 7421", "未接", "06:58"),
    Call("186 0000 7421", "未接", "08:15", count=2),
    Call("021-5555 0132", "呼入", "12:40"),
    Call("155 1234 0098", "未接", "22:47"),
    Call("139 0000 3316", "呼出", "23:05"),  # a call the user made: not proposed
]
ERASE = "删除我的数据"  # data/nlu/privacy.yml, intent delete_my_data
ERASE_YES = "确定全部删除"  # the erase form's button (domain/privacy.yml)
ASK_FOR_PACK = "导出证据包"  # data/nlu/evidence.yml, intent request_evidence_pack


def call_log_png() -> bytes:
    return samples.png_bytes(samples.call_log([("11月18日 星期二", CALLS)]))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upload(base: str, sender: str, data: bytes, name: str = "通话记录.png") -> dict:
    response = requests.post(
        f"{base}{UPLOAD}",
        data={"sender": sender},
        files={"file": (name, data, "image/png")},
        timeout=UPLOAD_TIMEOUT,
    )
    assert response.status_code == 200, response.text[:300]
    return response.json()


def texts(messages: list[dict]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def buttons(messages: list[dict]) -> list[str]:
    return [b.get("title") for m in messages for b in m.get("buttons") or []]


def stored_by(cluster, sender: str) -> list[int]:
    """The backend ports whose log shows this sender's upload stored (channels/evidence.py
    logs ``evidence.stored ... sender=<hash>``, never the sender id)."""
    who = f"sender={sender_key('evidence', sender)}"
    return [
        port
        for port in RASA_PORTS
        if any("evidence.stored" in line and who in line for line in cluster.log(f"rasa-{port}.log").splitlines())
    ]


def other_process(cluster, port: int) -> str:
    """A Rasa process's address other than the one on ``port``."""
    return next(cluster.rasa_url(i) for i, p in enumerate(RASA_PORTS) if p != port)


def evidence_rows(cluster, sender: str) -> list[dict]:
    """The sender's files as PostgreSQL holds them, with the size of their stored bytes."""
    from sqlalchemy import create_engine, text

    engine = create_engine(cluster.pg_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT f.id, f.sha256, f.size, f.blob, f.channel, f.incident_ids, length(b.data) AS stored "
                    "FROM evidence_files f LEFT JOIN evidence_blobs b ON b.file_id = f.id "
                    "WHERE f.owner = :owner ORDER BY f.received_at, f.id"
                ),
                {"owner": owner_key(sender)},
            ).fetchall()
    finally:
        engine.dispose()
    return [dict(row._mapping) for row in rows]


def pack_url(replies: list[dict]) -> str:
    """The pack's link from the bot's answer (the web chat's card payload, or the text)."""
    for reply in replies:
        custom = reply.get("custom")
        if isinstance(custom, dict) and custom.get("type") == "evidence_pack":
            return custom["url"]
    found = re.search(r"/webhooks/evidence/pack/\S+", texts(replies))
    assert found, replies
    return found.group(0)


def token_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


def read_zip(data: bytes) -> tuple[dict, dict[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        contents = {name: archive.read(name) for name in archive.namelist()}
    return json.loads(contents["manifest.json"]), contents


def bases(cluster) -> dict[str, str]:
    """nginx and each Rasa process straight (as if on machines of their own)."""
    return {"nginx": cluster.nginx, **{f"rasa:{port}": cluster.rasa_url(i) for i, port in enumerate(RASA_PORTS)}}


def get(base: str, path: str) -> requests.Response:
    return requests.get(f"{base}{path}", timeout=120)


def running_secret(cluster) -> str:
    """ANXIN_EVIDENCE_SECRET as run.sh gave it to the Rasa processes (the same for all)."""
    secrets_seen = set()
    for index in range(len(RASA_PORTS)):
        pid = cluster.rasa(index).pid
        assert pid is not None, f"Rasa process {index} is not running"
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        values = [line.split(b"=", 1)[1] for line in environ if line.startswith(b"ANXIN_EVIDENCE_SECRET=")]
        assert values and values[0], "run.sh gave the Rasa process no evidence secret"
        secrets_seen.add(values[0].decode())
    assert len(secrets_seen) == 1, "the Rasa processes sign links with different secrets"
    return secrets_seen.pop()


@pytest.fixture(scope="module")
def signer(cluster):
    """Make links as the action server does, with the profile's own secret (this process's
    environment is put back afterwards)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(links.ENV_SECRET, running_secret(cluster))
        yield links


@pytest.fixture(scope="module")
def shot(cluster):
    """One user's call-log screenshot, uploaded through nginx and read back by the bot."""
    user = User(cluster.nginx)
    user.say("你好")
    data = call_log_png()
    answer = upload(cluster.nginx, user.sender, data)
    return {"user": user, "data": data, "answer": answer}


def noisy_png(image) -> bytes:
    """The screen with a little noise in every pixel: over 3 MB as PNG (a real phone's
    screenshot is often that big), over Sanic's and nginx's 1 MiB default caps; still legible."""
    import numpy as np
    from PIL import Image

    pixels = np.asarray(image.convert("RGB")).astype(np.int16)
    noise = np.random.default_rng(15).integers(-6, 7, pixels.shape)
    return samples.png_bytes(Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8)))


def test_first_uploads_on_both_processes_at_once_are_both_stored(cluster):
    """On a fresh database each process makes the evidence tables on its first file: two
    at once must not fail each other (PostgreSQL refuses a table made twice at once).
    The module's first test: the session's database has no evidence table yet."""
    users = [User(cluster.nginx) for _ in RASA_PORTS]
    data = call_log_png()
    barrier = threading.Barrier(len(users))

    def send(index: int) -> requests.Response:
        barrier.wait()
        return requests.post(
            f"{cluster.rasa_url(index)}{UPLOAD}",
            data={"sender": users[index].sender},
            files={"file": ("a.png", data, "image/png")},
            timeout=UPLOAD_TIMEOUT,
        )

    with ThreadPoolExecutor(len(users)) as pool:
        answers = list(pool.map(send, range(len(users))))
    assert [a.status_code for a in answers] == [200] * len(users), [a.text[:200] for a in answers]
    for user, answer in zip(users, answers, strict=True):
        assert "记为 4 条来电记录" in texts(answer.json()["messages"])
        [row] = evidence_rows(cluster, user.sender)
        assert row["blob"] == "db" and row["stored"] == len(data)
    assert sorted(port for user in users for port in stored_by(cluster, user.sender)) == sorted(RASA_PORTS)


def test_a_screenshot_over_1_mib_passes_nginx_whole(cluster, signer):
    user = User(cluster.nginx)
    data = noisy_png(samples.sample_call_log())
    assert len(data) > 3 * 1024 * 1024
    answer = upload(cluster.nginx, user.sender, data, name="Screenshot_20241120.png")
    assert answer["file"]["sha256"] == sha256(data) and answer["file"]["size"] == len(data)
    assert "记为" in texts(answer["messages"]), answer["messages"]  # read by OCR all the same
    [row] = evidence_rows(cluster, user.sender)
    assert row["blob"] == "db" and row["stored"] == len(data)
    path = f"/webhooks/evidence/file/{signer.make_path_token(owner_key(user.sender), row['id'])}"
    for name, base in bases(cluster).items():
        one = get(base, path)
        assert one.status_code == 200 and one.content == data, (name, one.status_code)


def test_an_upload_through_nginx_is_read_and_its_bytes_are_in_postgresql(cluster, shot):
    answer, data, user = shot["answer"], shot["data"], shot["user"]
    assert answer["file"]["sha256"] == sha256(data) and answer["file"]["size"] == len(data)
    assert answer["file"]["kind"] == "image" and answer["file"]["type"] == "png"
    said = texts(answer["messages"])
    assert "原样保存" in said and answer["file"]["sha256"][:12] in said, said
    assert "我从截图里读到" in said and "记为 4 条来电记录" in said, said
    for seen in ("18600007421", "15512340098", "06:58", "22:47", "（2 次）"):
        assert seen in said, (seen, said)
    assert buttons(answer["messages"]) == ["记下", "不用记"]
    assert all(m.get("recipient_id") == user.sender for m in answer["messages"])

    # The bytes are in PostgreSQL (BYTEA), where every process on every machine reads them;
    # nothing under the process's own folder.
    [row] = evidence_rows(cluster, user.sender)
    assert row["blob"] == "db" and row["stored"] == len(data) and row["sha256"] == sha256(data)
    assert row["id"] == answer["file"]["id"] and row["channel"] == "web"
    assert not (ROOT / "var" / "evidence" / owner_key(user.sender)).exists()
    # One process took it (its log says so, naming the sender only by a hash).
    assert len(stored_by(cluster, user.sender)) == 1
    rasa_logs = "".join(cluster.log(f"rasa-{port}.log") for port in RASA_PORTS)
    assert user.sender not in rasa_logs and "通话记录.png" not in rasa_logs


def test_the_confirmation_and_the_pack_work_on_the_other_process(cluster, shot, signer):
    user, data, file_id = shot["user"], shot["data"], shot["answer"]["file"]["id"]
    [took] = stored_by(cluster, user.sender)
    other = other_process(cluster, took)

    # "记下" answered by the other process: the proposal is in the conversation (PostgreSQL).
    confirmed = user.say("记下", base=other)
    assert "记下了 4 条" in confirmed, confirmed
    [row] = evidence_rows(cluster, user.sender)
    assert len(json.loads(row["incident_ids"])) == 4  # each entry names the screenshot

    replies = user.post(ASK_FOR_PACK).json()
    assert "证据包准备好了（1 个文件" in texts(replies), replies
    url = pack_url(replies)
    assert url.startswith("/webhooks/evidence/pack/"), url  # no ANXIN_PUBLIC_URL here
    shot["pack_url"] = url

    file_path = f"/webhooks/evidence/file/{signer.make_path_token(owner_key(user.sender), file_id)}"
    shot["file_path"] = file_path
    for name, base in bases(cluster).items():
        pack = get(base, url)
        assert pack.status_code == 200, (name, pack.status_code, pack.text[:200])
        assert pack.headers["Content-Type"].startswith("application/zip")
        assert re.search(r'filename="anxin-evidence-\d{8}\.zip"', pack.headers["Content-Disposition"])
        manifest, contents = read_zip(pack.content)
        [listed] = manifest["files"]
        assert listed["sha256"] == sha256(data) and listed["size"] == len(data), (name, listed)
        assert contents[listed["name"]] == data, name  # the bytes as uploaded
        assert listed["source"] == "web" and listed["type"] == "png"
        assert manifest["entries"] == 4 and sorted(listed["linked_entries"]) == [1, 2, 3, 4]
        for generated in manifest["generated_files"]:
            assert sha256(contents[generated["name"]]) == generated["sha256"], (name, generated["name"])

        one = get(base, file_path)
        assert one.status_code == 200 and one.content == data, (name, one.status_code)
        assert one.headers["Content-Type"] == "image/png"


def test_links_changed_for_another_user_or_expired_are_refused_by_both_processes(cluster, shot, signer):
    user, file_id = shot["user"], shot["answer"]["file"]["id"]
    token = token_of(shot["pack_url"])
    owner, subject, expires, signature, sealed = token.split(".")
    stranger = User(cluster.nginx)  # another user, who uploaded nothing
    stranger_owner = owner_key(stranger.sender)
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    bad = evidence_text("web.link_bad")
    stranger_pack = signer.make_path_token(stranger_owner, "pack", sender_id=stranger.sender)
    refused = {
        # changed: the signature, the expiry, the owner
        "signature changed": f"/webhooks/evidence/pack/{owner}.{subject}.{expires}.{flipped}.{sealed}",
        "expiry pushed back": f"/webhooks/evidence/pack/{owner}.{subject}.{int(expires) + 86400}.{signature}.{sealed}",
        "owner swapped": f"/webhooks/evidence/pack/{stranger_owner}.{subject}.{expires}.{signature}.{sealed}",
        # another user's own valid pack link, with this user's sealed sender id put in
        "another user's link": "/webhooks/evidence/pack/" + ".".join([*stranger_pack.split(".")[:4], sealed]),
        # a file link opens no pack, and a pack link no file
        "file link as pack": f"/webhooks/evidence/pack/{token_of(shot['file_path'])}",
        "pack link as file": f"/webhooks/evidence/file/{token}",
        # a file link for another owner naming this user's file id
        "file, owner swapped": "/webhooks/evidence/file/"
        + ".".join([stranger_owner, *token_of(shot["file_path"]).split(".")[1:]]),
        "garbage": "/webhooks/evidence/pack/not-a-token",
    }
    expired_at = time.time() - 2 * 3600  # made two hours ago, valid for one
    expired = {
        "pack": "/webhooks/evidence/pack/"
        + signer.make_path_token(owner, "pack", 3600, sender_id=user.sender, now=expired_at),
        "file": "/webhooks/evidence/file/" + signer.make_path_token(owner, file_id, 3600, now=expired_at),
    }
    # Signed for the stranger, naming this user's file: the store finds no such file of theirs.
    foreign_file = "/webhooks/evidence/file/" + signer.make_path_token(stranger_owner, file_id)
    for name, base in bases(cluster).items():
        for why, path in refused.items():
            answer = get(base, path)
            assert answer.status_code == 403, (name, why, answer.status_code)
            assert answer.json() == {"error": bad}, (name, why)
        for why, path in expired.items():
            answer = get(base, path)
            assert answer.status_code == 403, (name, why, answer.status_code)
            assert answer.json() == {"error": evidence_text("web.link_expired")}, (name, why)
        answer = get(base, foreign_file)
        assert answer.status_code == 404 and answer.content != shot["data"], (name, answer.status_code)
        # The stranger's own pack holds none of this user's files.
        theirs = get(base, f"/webhooks/evidence/pack/{stranger_pack}")
        assert theirs.status_code == 200, (name, theirs.status_code)
        manifest, contents = read_zip(theirs.content)
        assert manifest["files"] == [] and manifest["entries"] == 0
        assert shot["data"] not in contents.values()
        # The real links still work after all that.
        assert get(base, shot["pack_url"]).status_code == 200, name


def test_delete_my_data_removes_the_files_for_both_processes(cluster, shot, signer):
    user, data = shot["user"], shot["data"]
    [took] = stored_by(cluster, user.sender)
    other = other_process(cluster, took)
    # A second file, stored by the other process this time; not logged.
    second = samples.png_bytes(samples.sample_call_log())
    answer = upload(other, user.sender, second, name=f"{uuid.uuid4().hex[:6]}.png")
    assert "记为" in texts(answer["messages"]), answer["messages"]
    assert "什么都没记" in user.say("不用记")
    assert sorted(stored_by(cluster, user.sender)) == sorted(RASA_PORTS)  # one file on each
    assert [r["blob"] for r in evidence_rows(cluster, user.sender)] == ["db", "db"]
    second_path = f"/webhooks/evidence/file/{signer.make_path_token(owner_key(user.sender), answer['file']['id'])}"
    for name, base in bases(cluster).items():
        assert get(base, second_path).content == second, name

    asked = user.say(ERASE)
    assert "确定" in asked and "找不回来" in asked, asked
    erased = user.say(ERASE_YES)
    assert "已删除" in erased and "保存的证据文件也已删除：2 个" in erased, erased

    assert evidence_rows(cluster, user.sender) == []
    from sqlalchemy import create_engine, text

    engine = create_engine(cluster.pg_url)
    try:
        with engine.connect() as connection:
            left = connection.execute(
                text("SELECT count(*) FROM evidence_blobs WHERE file_id IN (:a, :b)"),
                {"a": shot["answer"]["file"]["id"], "b": answer["file"]["id"]},
            ).scalar_one()
    finally:
        engine.dispose()
    assert left == 0
    for name, base in bases(cluster).items():
        for path in (shot["file_path"], second_path):  # still signed, but the files are no more
            gone = get(base, path)
            assert gone.status_code == 404, (name, gone.status_code)
            assert gone.json() == {"error": evidence_text("web.file_missing")}
        pack = get(base, shot["pack_url"])
        assert pack.status_code == 200, (name, pack.status_code)
        manifest, contents = read_zip(pack.content)
        assert manifest["files"] == [] and manifest["entries"] == 0, (name, manifest)
        assert data not in contents.values() and second not in contents.values()
    assert "还没有发过截图或录音" in user.say(ASK_FOR_PACK)

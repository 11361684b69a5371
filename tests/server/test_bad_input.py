"""Bad input over REST gets HTTP 200 and a sensible reply, and the
conversation goes on normally afterwards."""

import pytest

BAD = [
    "",
    "啊" * 5000,
    "😭😭😭🙏",
    "<script>alert('x')</script>",
    "/restart",
    '/inform{"relation":"guarantor"}',
    '/no_such_intent{"x": 1}',
    "/faq{broken json",
    "    ",
]


@pytest.mark.parametrize("message", BAD, ids=range(len(BAD)))
def test_bad_input_then_normal_conversation(bot, message):
    user = bot.new_user()
    response = user.post(message)
    assert response.status_code == 200
    assert isinstance(response.json(), list)
    follow_up = user.say("你好")
    assert "安心" in follow_up


def test_non_string_message_is_rejected_cleanly(bot):
    import requests

    response = requests.post(
        f"{bot.base}/webhooks/rest/webhook", json={"sender": "x", "message": 123}, timeout=10
    )
    assert response.status_code < 500

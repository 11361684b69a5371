"""Custom actions for 安心 (rasa-sdk 3.6).

One module per concern; each action gathers slots and dispatches replies
built by ``advisor`` from the knowledge file.
"""

from actions import answers, faq, flow, forms, options  # noqa: F401  (registers actions)

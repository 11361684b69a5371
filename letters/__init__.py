"""Complaint letters from the incident log (plain Python, no Rasa imports).

- ``registry``: the letter types, as the knowledge file defines them;
- ``render``: ``render_letter(kind, facts)``;
- ``message``: ``letter_message(letter)``, the one structured message a letter
  travels as (each channel renders it: channels/wechat_format.py, web/chat.js);
- ``docx_export``: ``to_docx_bytes(letter)`` for a Word file to print or send.
"""

from letters.render import KINDS, PLACEHOLDER, Letter, render_letter, response_due

__all__ = ["KINDS", "PLACEHOLDER", "Letter", "render_letter", "response_due"]

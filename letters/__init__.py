"""Complaint letters from the incident log (plain Python, no Rasa imports).

- ``render``: ``render_letter(kind, facts)`` for the five letters, and
  ``split_for_wechat`` for sending a letter as WeChat texts;
- ``docx_export``: ``to_docx_bytes(letter)`` for a Word file to print or send.
"""

from letters.render import KINDS, PLACEHOLDER, Letter, render_letter, response_due, split_for_wechat

__all__ = ["KINDS", "PLACEHOLDER", "Letter", "render_letter", "response_due", "split_for_wechat"]

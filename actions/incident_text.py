"""Moved to ``incidents/text.py`` (pure parsing belongs below the actions).

Kept only while ``actions/letters.py`` still imports ``actions.incident_text``;
delete this file once it imports ``incidents.text`` instead.
"""

from incidents.text import *  # noqa: F403

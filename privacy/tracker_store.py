"""Rasa's SQL tracker store, plus erasing a conversation on the user's request.

``action_erase_my_data`` (actions/privacy.py) deletes the user's incident log
and sets the slot ``data_erased``. When Rasa then saves that conversation,
this store deletes every stored event of the sender instead of saving new
ones, so the next message starts a conversation that knows nothing.

endpoints.yml: ``tracker_store: {type: privacy.tracker_store.ErasableSQLTrackerStore, dialect: sqlite, db: var/tracker.db}``
(the same keys as Rasa's ``type: SQL``, PostgreSQL included).
"""

from __future__ import annotations

import logging

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)
ERASE_SLOT = "data_erased"


def erase_requested(tracker: DialogueStateTracker) -> bool:
    return any(
        isinstance(event, SlotSet) and event.key == ERASE_SLOT and event.value for event in tracker.events
    )


class ErasableSQLTrackerStore(SQLTrackerStore):
    async def save(self, tracker: DialogueStateTracker) -> None:
        if not erase_requested(tracker):
            await super().save(tracker)
            return
        with self.session_scope() as session:
            removed = (
                session.query(self.SQLEvent)
                .filter(self.SQLEvent.sender_id == tracker.sender_id)
                .delete(synchronize_session=False)
            )
            session.commit()
        # The sender id is an opaque channel id (WeChat OpenID, widget uuid), not a name or number.
        logger.info("Erased a conversation on the user's request (%d events).", removed)

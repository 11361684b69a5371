"""The advisor's domain logic in plain Python (no Rasa): who the user is,
and the replies built from the knowledge file. Actions call these."""

"""Custom dialogue policies (Rasa 3.6 graph components)."""

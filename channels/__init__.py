"""Rasa input channels of our own (each a small module, a Sanic blueprint)."""

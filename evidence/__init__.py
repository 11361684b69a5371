"""The evidence locker (issue #15): files in, checked, stored with their hashes,
read by offline OCR, turned into proposed log entries, exported as one pack.

One module per concern, all plain Python (no Rasa), used by the channels and actions:

- ``files``: is an upload what it says it is (magic bytes, size, pixels, truncation)
- ``store``: original bytes + SHA-256, receive time, channel, owner (SQLite + folder, or PostgreSQL)
- ``links``: signed, expiring download links bound to one owner and one file
- ``ocr``: the rapidocr engine, loaded once and lazily, run off the event loop
- ``extract``: phone numbers, times, conduct, claimed company and call rows from OCR lines
- ``pack`` / ``chart``: the evidence pack (.zip) and the chart of the calls
- ``texts`` / ``fonts``: the user-facing words (``messages.yml``) and a CJK font
"""

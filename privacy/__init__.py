"""Privacy: personal data masked in logs (masking.py, logs.py) and conversations erased on request."""

"""Tasks: each module does one thing (register, retention, capture, pdfa, ...)."""

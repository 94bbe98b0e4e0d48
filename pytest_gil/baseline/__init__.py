"""Saved runs and comparisons with them (``--gil-autosave``, ``--gil-compare``)."""

"""Temporary bridge, to be deleted: the page's view moved to ``dashboard.query`` (issue 13). Only
tests/test_objectives.py, which is being rewritten, still imports it from here; nothing else may."""
from dashboard.query import DEFAULT_MIX, View, view_from_query

__all__ = ["DEFAULT_MIX", "View", "view_from_query"]

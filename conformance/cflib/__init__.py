"""Helpers of the mrczio conformance suite (imported by the tests and by report.py)."""

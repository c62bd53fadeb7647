"""Builders of test inputs shared by several test modules (not tests themselves)."""

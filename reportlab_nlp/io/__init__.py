"""Readers and writers of reports and labels."""

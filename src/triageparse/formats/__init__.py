"""Readers of PowerShell-made text: encodings, the CSV dialect, culture-aware dates."""

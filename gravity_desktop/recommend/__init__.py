"""Ranking unread books for the reader's profile and history, with the reasons for each."""

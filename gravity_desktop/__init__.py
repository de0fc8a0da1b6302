"""GRAVITY Desktop: personalized book descriptions, learned and served on the reader's computer."""

__version__ = "0.1.0"

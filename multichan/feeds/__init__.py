"""Feeds: turn a channel's offers into a validated file, written atomically, then delivered."""

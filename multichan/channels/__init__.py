"""API channels: the Channel interface (base.py), discovery through the ``multichan.channels``
entry-point group (registry.py), and one module per built-in channel.

Feed channels (Google, Meta, Amazon feeds, CSV, JSON Lines) live in ``multichan.feeds``; the
types here are the ones that talk to a marketplace or shop API.
"""

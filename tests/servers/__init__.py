"""Test servers for channel modules, each written from its vendor's documented contract
(``../shared/specs/<channel>/``), independently of the channel module it tests."""

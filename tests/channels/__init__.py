"""Tests of the channel interface, discovery and the conformance suite."""

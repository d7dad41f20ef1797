"""Test doubles and harnesses shared by several test packages."""

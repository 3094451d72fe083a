"""Stores: the embedded durable default and Redis, behind one small protocol (see base.py)."""

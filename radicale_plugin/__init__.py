"""Radicale storage plugin serving Aurinko accounts as CardDAV address books.

A thin translator over ``bridge``; configured with ``[storage] type = radicale_plugin``.
"""

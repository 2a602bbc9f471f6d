"""Vendor adapters, one package per vendor (CONVENTIONS R6)."""

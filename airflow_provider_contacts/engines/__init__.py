"""Engines behind the operators: extraction from the Contacts API and the targets it lands in."""

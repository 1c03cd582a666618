"""Comparison models: one short module each, registered with ``@register_model``."""

"""The benchmark tasks: one module each, registered with ``@register_task``."""

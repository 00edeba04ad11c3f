"""Libvirt domain XML for a GuestPlan (through ``kvnuma.xmldoc``: standard library only)."""

from kvnuma.render.domain import merge_into, render_domain

__all__ = ["merge_into", "render_domain"]

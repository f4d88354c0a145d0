"""The demo compound: fictional but believable data loaded through the same services the app uses.

Each capability adds its part with `register_loader`; `gridpatrol demo` runs them in order.
"""
